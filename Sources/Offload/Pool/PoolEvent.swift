/// Something that happened in a pool, in the seed's message vocabulary.
public struct PoolEvent: Sendable {
    /// The type of a message between the pool and its workers (extensible).
    public struct MessageType: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A worker is being started.
        public static let initialize = MessageType(rawValue: "initialize")
        /// A worker can take jobs (carries its pid).
        public static let workerReady = MessageType(rawValue: "workerReady")
        /// A job was handed to a worker.
        public static let job = MessageType(rawValue: "job")
        /// A job's attempt started.
        public static let jobStarted = MessageType(rawValue: "jobStarted")
        /// A handler reported progress.
        public static let jobProgress = MessageType(rawValue: "jobProgress")
        /// A job completed (final).
        public static let jobCompleted = MessageType(rawValue: "jobCompleted")
        /// An attempt failed; `willRetry` says whether another follows.
        public static let jobFailed = MessageType(rawValue: "jobFailed")
        /// A worker's heartbeat.
        public static let heartbeat = MessageType(rawValue: "heartbeat")
        /// A worker was asked to stop a job (timeout, cancellation, preemption, shutdown).
        public static let cancel = MessageType(rawValue: "cancel")
        /// A worker ended.
        public static let terminate = MessageType(rawValue: "terminate")
        /// A worker failed or got stuck and was replaced.
        public static let workerError = MessageType(rawValue: "workerError")
        /// A job entered the queue (Offload's addition).
        public static let jobQueued = MessageType(rawValue: "jobQueued")
        /// A job was cancelled (final; Offload's addition).
        public static let jobCancelled = MessageType(rawValue: "jobCancelled")
        /// A running job gave way to critical work and was put back in the queue (Offload's addition).
        public static let jobPreempted = MessageType(rawValue: "jobPreempted")
    }

    /// What happened.
    public var type: MessageType
    /// When, since the pool was created.
    public var time: Duration
    public var worker: WorkerID?
    /// The worker's process id (on `workerReady` always).
    public var pid: Int32?
    public var job: JobID?
    public var kind: String?
    public var priority: Priority?
    public var attempt: Int?
    /// Progress, 0…1, on `jobProgress`.
    public var progress: Double?
    /// A note for people (why a job was cancelled, why a worker was replaced…).
    public var message: String?
    public var error: OffloadError?
    /// On `jobFailed`: whether the job will be tried again.
    public var willRetry: Bool?
    /// On the final events of a job (`jobCompleted`, `jobFailed` without retry, `jobCancelled`).
    public var outcome: JobOutcome?

    public init(type: MessageType, time: Duration, worker: WorkerID? = nil, pid: Int32? = nil, job: JobID? = nil,
                kind: String? = nil, priority: Priority? = nil, attempt: Int? = nil, progress: Double? = nil,
                message: String? = nil, error: OffloadError? = nil, willRetry: Bool? = nil, outcome: JobOutcome? = nil) {
        self.type = type
        self.time = time
        self.worker = worker
        self.pid = pid
        self.job = job
        self.kind = kind
        self.priority = priority
        self.attempt = attempt
        self.progress = progress
        self.message = message
        self.error = error
        self.willRetry = willRetry
        self.outcome = outcome
    }

    /// Whether this is the last event of a job.
    public var isFinal: Bool { outcome != nil }
}
