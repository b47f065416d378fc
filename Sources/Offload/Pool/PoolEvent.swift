/// Something that happened in a pool, for ``WorkerPool/events()`` (`let events = pool.events()`).
/// Switch over it:
///
/// ```swift
/// for await event in events {
///     switch event {
///     case .workerReady(let worker): print("\(worker.worker) ready, pid \(worker.pid ?? 0)")
///     case .jobProgress(let job, let fraction, _): print("\(job.job): \(Int(fraction * 100)) %")
///     case .jobCompleted(_, let outcome): print("\(outcome.id) done in \(outcome.runTime)")
///     default: break
///     }
///     if event.isFinal { break }
/// }
/// ```
///
/// A job's cases are its steps in the vocabulary every store and stream of jobs speaks
/// (``jobEvent(since:)``); ``name`` is what `--events` writes.
public enum PoolEvent: Sendable {
    /// A worker is being started (`initialize`).
    case workerStarting(WorkerEventInfo)
    /// A worker can take jobs; its pid is known (`workerReady`).
    case workerReady(WorkerEventInfo)
    /// A worker ended (`terminate`).
    case workerStopped(WorkerEventInfo)
    /// A worker failed, got stuck or was killed, and is replaced (`workerError`): the job it
    /// was running, if any, what happened, and the error its job got when the worker died.
    case workerFailed(WorkerEventInfo, job: JobID?, message: String, error: OffloadError?)
    /// A job with dependencies was submitted: it waits for them (`waiting`).
    case jobWaiting(JobEventInfo)
    /// A job entered the queue (`jobQueued`), when submitted or once its dependencies ended.
    case jobQueued(JobEventInfo)
    /// An attempt started on a worker (`jobStarted`).
    case jobStarted(JobEventInfo)
    /// The handler reported how far it has come, 0…1 (`jobProgress`).
    case jobProgress(JobEventInfo, fraction: Double, message: String?)
    /// The worker was asked to stop the attempt: a timeout, a cancel, a preemption or a
    /// shutdown, said by `reason` (`cancel`).
    case stopRequested(JobEventInfo, reason: String)
    /// A running job gave way to critical work and went back to the queue (`jobPreempted`).
    case jobPreempted(JobEventInfo)
    /// An attempt failed and the job will be tried again (`jobFailed` with `willRetry`), or the
    /// handler snoozed it (its error's ``OffloadError/snoozeFor`` is set).
    case attemptFailed(JobEventInfo, error: OffloadError)
    /// The job completed (final; `jobCompleted`).
    case jobCompleted(JobEventInfo, JobOutcome)
    /// The job failed for good (final; `jobFailed`).
    case jobFailed(JobEventInfo, JobOutcome)
    /// The job was cancelled (final; `jobCancelled`).
    case jobCancelled(JobEventInfo, JobOutcome)

    /// The event's name, as `--events` writes it: a job's step as ``JobEvent`` names it
    /// (`queued`, `scheduled`, `started`, `progress`, `stopRequested`, `preempted`,
    /// `retryScheduled`, `completed`, `failed`, `cancelled`), a worker's as the seed's message
    /// types (`initialize`, `workerReady`, `terminate`, `workerError`).
    public var name: String {
        switch self {
        case .workerStarting: "initialize"
        case .workerReady: "workerReady"
        case .workerStopped: "terminate"
        case .workerFailed: "workerError"
        default: jobEvent(since: Timestamp(secondsSince1970: 0))?.name ?? ""
        }
    }

    /// When, since the pool was made.
    public var time: Duration {
        switch self {
        case .workerStarting(let worker), .workerReady(let worker), .workerStopped(let worker), .workerFailed(let worker, _, _, _):
            worker.time
        case .jobWaiting(let job), .jobQueued(let job), .jobStarted(let job), .jobProgress(let job, _, _), .stopRequested(let job, _),
            .jobPreempted(let job),
            .attemptFailed(let job, _), .jobCompleted(let job, _), .jobFailed(let job, _), .jobCancelled(let job, _):
            job.time
        }
    }

    /// The job the event is about, if any.
    public var job: JobID? { jobInfo?.job ?? { if case .workerFailed(_, let job, _, _) = self { job } else { nil } }() }

    /// The worker the event is about, if any.
    public var worker: WorkerID? { workerInfo?.worker ?? jobInfo?.worker }

    /// The process of that worker, when known.
    public var pid: Int32? { workerInfo?.pid ?? jobInfo?.pid }

    /// The job's outcome, on a job's final event.
    public var outcome: JobOutcome? {
        switch self {
        case .jobCompleted(_, let outcome), .jobFailed(_, let outcome), .jobCancelled(_, let outcome): outcome
        default: nil
        }
    }

    /// Whether this is the last event of a job.
    public var isFinal: Bool { outcome != nil }

    /// What the event says of its job, for job events.
    public var jobInfo: JobEventInfo? {
        switch self {
        case .jobWaiting(let job), .jobQueued(let job), .jobStarted(let job), .jobProgress(let job, _, _), .stopRequested(let job, _),
            .jobPreempted(let job),
            .attemptFailed(let job, _), .jobCompleted(let job, _), .jobFailed(let job, _), .jobCancelled(let job, _):
            job
        default:
            nil
        }
    }

    /// The job event this is, in the vocabulary every store and stream of jobs speaks (`nil` for
    /// a worker's event); `origin` is when the pool was made (``WorkerPool/madeAt``), which its
    /// times count from.
    public func jobEvent(since origin: Timestamp) -> JobEvent? {
        guard let info = jobInfo else { return nil }
        func date(_ time: Duration) -> Timestamp { origin.adding(time) }
        let step: JobEvent.Step
        switch self {
        case .jobWaiting: step = .waiting
        case .jobQueued: step = info.runAt.map { .scheduled(runAt: date($0)) } ?? .queued
        case .jobStarted: step = .started
        case .jobProgress(_, let fraction, let message): step = .progress(fraction: fraction, message: message)
        case .stopRequested(_, let reason): step = .stopRequested(reason: reason)
        case .jobPreempted: step = .preempted
        case .attemptFailed(_, let error) where error.snoozeFor != nil: step = .snoozed(until: info.runAt.map(date), reason: error.message)
        case .attemptFailed(_, let error): step = .retryScheduled(at: info.runAt.map(date), error: error)
        case .jobCompleted(_, let outcome), .jobFailed(_, let outcome), .jobCancelled(_, let outcome): step = .ending(outcome)
        case .workerStarting, .workerReady, .workerStopped, .workerFailed: return nil
        }
        return JobEvent(
            job: info.job, at: date(info.time), step: step, attempt: info.attempt > 0 ? info.attempt : nil,
            worker: info.worker, pid: info.pid)
    }

    /// What the event says of its worker, for worker events.
    public var workerInfo: WorkerEventInfo? {
        switch self {
        case .workerStarting(let worker), .workerReady(let worker), .workerStopped(let worker), .workerFailed(let worker, _, _, _): worker
        default: nil
        }
    }
}

/// A worker as a ``PoolEvent`` shows it.
public struct WorkerEventInfo: Sendable, Hashable {
    /// When, since the pool was made.
    public var time: Duration
    public var worker: WorkerID
    /// Its process id (the host's for a thread worker); `nil` before a worker process started.
    public var pid: Int32?

    public init(time: Duration, worker: WorkerID, pid: Int32? = nil) {
        self.time = time
        self.worker = worker
        self.pid = pid
    }
}

/// A job as a ``PoolEvent`` shows it.
public struct JobEventInfo: Sendable, Hashable {
    /// When, since the pool was made.
    public var time: Duration
    public var job: JobID
    public var kind: String
    public var priority: Priority
    /// The attempt (1 for the first; 0 while it has not run).
    public var attempt: Int
    /// The worker that runs (or ran) the attempt, if it started.
    public var worker: WorkerID?
    public var pid: Int32?
    /// When the job is due, since the pool was made: for a job queued with a delay, and for a
    /// retry after its back-off.
    public var runAt: Duration?

    public init(
        time: Duration, job: JobID, kind: String, priority: Priority, attempt: Int, worker: WorkerID? = nil, pid: Int32? = nil,
        runAt: Duration? = nil
    ) {
        self.time = time
        self.job = job
        self.kind = kind
        self.priority = priority
        self.attempt = attempt
        self.worker = worker
        self.pid = pid
        self.runAt = runAt
    }
}
