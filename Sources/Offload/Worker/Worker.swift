/// A job handed to a worker: the job, its attempt number and the handler that runs it.
///
/// A class: an assignment passes through several hands (the pool's effects, a worker's mailbox,
/// a process worker's list of jobs held) and a reference is one retain where a copy of the job
/// was one per field.
final class Assignment: Sendable {
    let job: Job
    /// 1 for the first attempt.
    let attempt: Int
    let handler: AnyJobHandler
    /// The order in which the pool handed the job to its worker (1, 2, …): workers that take
    /// several jobs at once receive them in this order, whichever threads hand them over.
    let sequence: Int
    /// The pool counts the job as waiting behind another on the worker: the worker says when it
    /// starts it. (A job handed to an idle worker is counted as started at once.)
    let announcesStart: Bool

    init(job: Job, attempt: Int, handler: AnyJobHandler, sequence: Int = 0, announcesStart: Bool = false) {
        self.job = job
        self.attempt = attempt
        self.handler = handler
        self.sequence = sequence
        self.announcesStart = announcesStart
    }
}

/// A worker as the pool drives it. The pool calls these methods outside its lock; the worker
/// reports back through its ``WorkerHost``.
protocol Worker: AnyObject, Sendable {
    var id: WorkerID { get }
    /// The process that runs the worker's jobs (0 until a worker process has started).
    var pid: Int32 { get }
    /// Resident memory and CPU time of the worker's own process; `nil` for a thread of the host.
    var resourceUsage: WorkerResourceUsage? { get }
    /// Begins the worker; it calls ``WorkerHost/workerReady(_:)`` when it can take jobs.
    func start()
    /// Hands the worker a job. The pool never hands a worker more jobs than it has free slots;
    /// a worker with several slots runs its jobs in the order they were delivered.
    func deliver(_ assignment: Assignment)
    /// Asks the worker to stop `job` cooperatively, if it still runs or holds it.
    func cancel(_ job: JobID)
    /// Ends the worker once it has no job; it calls ``WorkerHost/workerExited(_:cause:)``.
    func stop()
    /// Gives up on a worker whose job does not end: it must not report to the pool again.
    /// A thread is left to itself; a process is killed (and reaped).
    func abandon()
}

/// What a worker reports to its pool.
protocol WorkerHost: AnyObject, Sendable {
    func workerReady(_ worker: any Worker)
    func progress(of job: JobID, attempt: Int, fraction: Double, message: String?)
    /// The worker ended an attempt. The returned assignment, if any, is the worker's next job.
    func finish(_ assignment: Assignment, result: Result<JobResult, any Error>, on worker: any Worker, takeNext: Bool) -> Assignment?
    /// The worker ended; `cause`, when given, is why (the error its running job fails with).
    func workerExited(_ worker: any Worker, cause: OffloadError?)
}

/// What a worker process reports in a batch (all the frames one read brought), so that the
/// pool takes its lock once for all of them.
enum WorkerReport {
    /// A job the worker held behind another has started.
    case started(JobID, attempt: Int)
    case progress(JobID, attempt: Int, fraction: Double, message: String?)
    /// An attempt ended; the worker takes its next job at once.
    case finished(Assignment, Result<JobResult, any Error>)
}

/// A host that takes batched reports (the pool, from its worker processes).
protocol BatchingWorkerHost: WorkerHost {
    /// Applies `reports` in order; returns the worker's next jobs.
    func report(_ reports: [WorkerReport], on worker: any Worker) -> [Assignment]
}

/// What a worker process uses, read from `/proc`.
public struct WorkerResourceUsage: Sendable, Hashable {
    /// Resident memory in bytes.
    public var residentBytes: Int
    /// User and system CPU time.
    public var cpuTime: Duration

    public init(residentBytes: Int, cpuTime: Duration) {
        self.residentBytes = residentBytes
        self.cpuTime = cpuTime
    }
}
