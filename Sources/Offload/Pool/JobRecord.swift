/// Why the pool asked a running job to stop.
enum StopReason: Sendable {
    case timeout
    case cancelled
    case preempted
    case shutdown
}

/// A job the pool holds, from submit to its end.
///
/// `@unchecked Sendable`: a record is touched under one lock at a time — the inbox's from
/// `submit` until it is drained, the pool's main lock after that.
final class JobRecord: QueueableJob, @unchecked Sendable {
    var job: Job
    let handle: JobTicket
    let handler: AnyJobHandler
    let lane: QueueLane
    let metrics: KindMetrics
    /// Attempts started and counted (a preempted attempt is given back).
    var attempts = 0
    let submittedAt: ContinuousClock.Instant
    /// When the job last became ready.
    var readySince: ContinuousClock.Instant
    var startedAt: ContinuousClock.Instant?
    var deadline: ContinuousClock.Instant?
    var worker: WorkerID?
    var workerPID: Int32?
    var stopReason: StopReason?
    var graceDeadline: ContinuousClock.Instant?
    /// The job already ignored a preemption; it is not asked again.
    var refusedPreemption = false
    var lastWait: Duration = .zero
    var lastRun: Duration = .zero

    var id: JobID { job.id }
    var priority: Priority { job.priority }

    init(job: Job, handle: JobTicket, handler: AnyJobHandler, lane: QueueLane, metrics: KindMetrics, now: ContinuousClock.Instant) {
        self.job = job
        self.handle = handle
        self.handler = handler
        self.lane = lane
        self.metrics = metrics
        self.submittedAt = now
        self.readySince = max(job.runAt ?? now, now)
    }

    var info: JobInfo {
        JobInfo(id: job.id, kind: job.kind, priority: job.priority, requiredCapabilities: job.requiredCapabilities)
    }

    func outcome(status: JobStatus, result: JobResult? = nil, error: OffloadError? = nil, now: ContinuousClock.Instant) -> JobOutcome {
        JobOutcome(
            id: job.id, kind: job.kind, priority: job.priority, status: status, attempts: attempts, worker: worker, workerPID: workerPID,
            waitTime: lastWait, queueTime: (startedAt ?? now) - submittedAt, runTime: lastRun, result: result, error: error)
    }
}

/// A worker as the pool's state keeps it.
struct WorkerSlot {
    let worker: any Worker
    var id: WorkerID { worker.id }
    let profile: Int
    let capabilities: Set<String>
    /// Jobs the worker may hold at once, the running one included.
    let capacity: Int
    var state: WorkerState = .initializing
    var running: JobRecord?
    /// Jobs handed to the worker behind the running one, in order; the worker starts them itself.
    var held: [JobRecord] = []
    let startedAt: ContinuousClock.Instant
    var idleSince: ContinuousClock.Instant
    var jobsCompleted = 0
    /// Jobs handed to the worker so far: the last one's ``Assignment/sequence``.
    var handedOver = 0
    var busyTime: Duration = .zero
    /// Asked to end; takes no more jobs.
    var stopping = false

    /// Jobs handed over and not ended.
    var load: Int { (running == nil ? 0 : 1) + held.count }
    /// Whether the worker can take another job now.
    var isFree: Bool { state != .initializing && !stopping && load < capacity }
    /// Whether the worker is ready, holds no job and is not ending.
    var isIdle: Bool { state == .idle && load == 0 && !stopping }

    /// What policies see of the worker (cheap: no `/proc` figures).
    var info: WorkerInfo {
        WorkerInfo(id: id, state: state, capabilities: capabilities, jobsCompleted: jobsCompleted, busyTime: busyTime,
                   runningKind: running?.job.kind, heldJobs: held.count, pid: worker.pid)
    }

    /// The worker as metrics show it, with its process's memory and CPU time.
    var metricsInfo: WorkerInfo {
        var info = info
        info.resourceUsage = worker.resourceUsage
        return info
    }
}

/// What the pool does after leaving its lock, in this order.
struct PoolEffects {
    var starts: [any Worker] = []
    var deliveries: [(worker: any Worker, assignment: Assignment)] = []
    var cancels: [(worker: any Worker, job: JobID)] = []
    var stops: [any Worker] = []
    var abandons: [any Worker] = []
    var resolutions: [(handle: JobTicket, outcome: JobOutcome)] = []
    var admitted: [CheckedContinuation<Void, Never>] = []
    var stopped: [CheckedContinuation<Void, Never>] = []
    var wakeSupervisor = false
    var finishEvents = false

    /// Adds the effects of a later step, to be performed after these.
    mutating func merge(_ other: PoolEffects) {
        starts += other.starts
        deliveries += other.deliveries
        cancels += other.cancels
        stops += other.stops
        abandons += other.abandons
        resolutions += other.resolutions
        admitted += other.admitted
        stopped += other.stopped
        wakeSupervisor = wakeSupervisor || other.wakeSupervisor
        finishEvents = finishEvents || other.finishEvents
    }
}
