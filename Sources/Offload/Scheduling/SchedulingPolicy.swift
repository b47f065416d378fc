/// What a scheduling policy sees of a job.
public struct JobInfo: Sendable {
    public var id: JobID
    public var kind: String
    public var priority: Priority
    public var requiredCapabilities: Set<String>
}

/// What a scheduling policy sees of a worker.
public struct WorkerInfo: Sendable {
    public var id: WorkerID
    public var state: WorkerState
    /// What the worker declares it can run (kind names and free-form tags).
    public var capabilities: Set<String>
    /// Jobs the worker has ended since it started.
    public var jobsCompleted: Int
    /// Time the worker has spent running jobs.
    public var busyTime: Duration
    /// The kind of the job it is running, if any.
    public var runningKind: String?
    /// Jobs handed to the worker behind the running one (process workers with a prefetch window).
    public var heldJobs: Int = 0
    /// The process running the worker's jobs (the host's own for thread workers; 0 while starting).
    public var pid: Int32 = 0
    /// Resident memory and CPU time of a worker process, from `/proc` at its last heartbeat.
    public var resourceUsage: WorkerResourceUsage?
}

/// Decides the order of queued jobs, which worker takes a job, and when a job may preempt another.
///
/// The pool calls a policy under its lock: keep the methods short and free of side effects.
/// ```swift
/// struct PinImages: SchedulingPolicy {
///     var name: String { "pinImages" }
///     mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? {
///         job.kind == "image" ? candidates.first(where: { $0.id.rawValue == "w1" })?.id : candidates.last?.id
///     }
/// }
/// ```
public protocol SchedulingPolicy: Sendable {
    /// The policy's name, as `--policy` takes it.
    var name: String { get }
    /// The order of ready jobs (default `.priority`).
    var ordering: QueueOrdering { get }
    /// Whether a job runs only on workers that declare its kind among their capabilities (default `false`).
    var requiresDeclaredKind: Bool { get }
    /// Picks the worker for `job` among `candidates` (each free and able to run it; never empty).
    /// Returning `nil` leaves the job queued.
    mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID?
    /// Whether a queued `incoming` job may cancel `running` to take its worker (default: only
    /// critical work preempts, and only work of a lower level).
    func shouldPreempt(running: JobInfo, for incoming: JobInfo) -> Bool
}

extension SchedulingPolicy {
    public var ordering: QueueOrdering { .priority }
    public var requiresDeclaredKind: Bool { false }

    public func shouldPreempt(running: JobInfo, for incoming: JobInfo) -> Bool {
        incoming.priority == .critical && running.priority < .critical
    }
}
