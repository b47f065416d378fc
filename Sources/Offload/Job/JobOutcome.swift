/// How a job ended.
public enum JobStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case completed
    case failed
    case cancelled
}

/// The end of a job: its status, its result or error, and where and how long it ran.
public struct JobOutcome: Sendable {
    public var id: JobID
    public var kind: String
    public var priority: Priority
    public var status: JobStatus
    /// Attempts started (a preempted attempt is not counted).
    public var attempts: Int
    /// The worker that ran the last attempt.
    public var worker: WorkerID?
    /// The process id of that worker (the host's own for thread workers).
    public var workerPID: Int32?
    /// Time the job spent ready in the queue before its last attempt started: from submission,
    /// or from the end of its delay or of a retry's back-off.
    public var waitTime: Duration
    /// Time from submission to the start of the last attempt (to the job's end, when that attempt
    /// never started): delays, back-offs and earlier attempts included.
    public var queueTime: Duration
    /// How long the last attempt ran.
    public var runTime: Duration
    /// The handler's output, for a completed job.
    public var result: JobResult?
    /// Why the job failed or was cancelled.
    public var error: OffloadError?

    public init(
        id: JobID, kind: String, priority: Priority = .normal, status: JobStatus, attempts: Int = 0,
        worker: WorkerID? = nil, workerPID: Int32? = nil, waitTime: Duration = .zero, queueTime: Duration = .zero,
        runTime: Duration = .zero, result: JobResult? = nil, error: OffloadError? = nil
    ) {
        self.id = id
        self.kind = kind
        self.priority = priority
        self.status = status
        self.attempts = attempts
        self.worker = worker
        self.workerPID = workerPID
        self.waitTime = waitTime
        self.queueTime = queueTime
        self.runTime = runTime
        self.result = result
        self.error = error
    }

    /// The output as `type`, or the job's error when it did not complete.
    public func value<T: Decodable>(as type: T.Type) throws(OffloadError) -> T {
        guard status == .completed, let result else {
            throw error ?? OffloadError(.handlerFailed, "job \(id) has no result")
        }
        return try result.decode(type)
    }
}
