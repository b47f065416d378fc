/// A message between a pool and one of its worker processes (the seed's vocabulary).
///
/// On the wire each message is one frame: a 4-byte little-endian length of what follows, a
/// version byte, a type byte, then the body in ``WireWriter``'s encoding. Job payloads and
/// results are opaque bytes (JSON for the built-in kinds); the envelope around them is binary,
/// because a JSON envelope costs about 60 µs a round trip against 8 µs for this one.
enum WireMessage: Equatable, Sendable {
    /// Host → worker, first: who the worker is and how it should behave.
    case initialize(WireInitialize)
    /// Worker → host: the worker can take jobs.
    case workerReady(pid: Int32, kinds: [String])
    /// Host → worker: run a job (after any it is running or holds).
    case job(WireJob)
    /// Worker → host: a job the worker held behind another has started.
    case jobStarted(id: String, attempt: Int)
    case jobProgress(id: String, attempt: Int, fraction: Double, message: String?)
    case jobCompleted(id: String, attempt: Int, result: [UInt8])
    /// Worker → host: the attempt failed; `cancelled` when it stopped because it was asked to.
    case jobFailed(id: String, attempt: Int, failure: WireFailure)
    /// Worker → host, every heartbeat interval, from a thread of its own.
    case heartbeat(sequence: UInt64)
    /// Host → worker: stop this attempt if it still runs or waits.
    case cancel(id: String, attempt: Int)
    /// Host → worker: end once the jobs already handed over are done.
    case terminate
    /// Worker → host: the worker hit a problem of its own (a bad frame, a failed start).
    case workerError(message: String)

    /// The type byte of each message.
    enum Kind: UInt8, CaseIterable, Sendable {
        case initialize = 1, workerReady, job, jobStarted, jobProgress, jobCompleted, jobFailed
        case heartbeat, cancel, terminate, workerError
    }

    var kind: Kind {
        switch self {
        case .initialize: .initialize
        case .workerReady: .workerReady
        case .job: .job
        case .jobStarted: .jobStarted
        case .jobProgress: .jobProgress
        case .jobCompleted: .jobCompleted
        case .jobFailed: .jobFailed
        case .heartbeat: .heartbeat
        case .cancel: .cancel
        case .terminate: .terminate
        case .workerError: .workerError
        }
    }
}

/// What a worker process learns when it starts.
struct WireInitialize: Equatable, Sendable {
    var workerID: String
    /// How often the worker sends a heartbeat.
    var heartbeatInterval: Duration
    /// What each job may use; the largest frame either side may send follows from it.
    var limits: ResourceLimits
    /// The host's pid: the worker ends when its parent is no longer this process.
    var hostPID: Int32

    var maxFrameBytes: Int { limits.maxFrameBytes }
}

/// A job as a worker process receives it.
struct WireJob: Equatable, Sendable {
    var id: String
    var attempt: Int
    var kind: String
    var priority: Priority
    var payload: [UInt8]
    /// Keys the payload type does not read are ignored, not refused.
    var ignoresUnknownKeys = false
    /// The host counts the job as held behind another: the worker sends `jobStarted` when it
    /// starts it, even when it finds itself idle by then.
    var announcesStart = false
    /// The attempt's trace headers (flag 4 and a count of name–value pairs when any).
    var trace: [String: String] = [:]
}

/// Why an attempt failed in a worker process.
struct WireFailure: Equatable, Sendable {
    var code: String
    var message: String
    var retryable: Bool?
    /// The handler stopped because the host asked it to (cancellation, preemption, timeout).
    var cancelled: Bool
    /// The handler snoozed the job for this many milliseconds.
    var snoozeMilliseconds: UInt64? = nil
}
