/// An error of Offload: a code that results and events show, and a message for people.
///
/// The code is extensible (a struct, not an enum) so that job kinds can add their own without
/// breaking users who switch over the known ones.
///
/// ```swift
/// throw OffloadError(.invalidPayload, "payload.ms must be a non-negative number")
/// ```
public struct OffloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as the stable string results show (`"timedOut"`, `"invalidPayload"`, …).
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// The job ran past its timeout.
        public static let timedOut: Code = "timedOut"
        /// The worker process running the job died.
        public static let workerCrashed: Code = "workerCrashed"
        /// The worker running the job went over its memory limit.
        public static let memoryLimitExceeded: Code = "memoryLimitExceeded"
        /// The job's fields or payload are not valid; the message names the field.
        public static let invalidPayload: Code = "invalidPayload"
        /// No handler is registered for the job's kind.
        public static let unknownKind: Code = "unknownKind"
        /// The handler threw an error of its own.
        public static let handlerFailed: Code = "handlerFailed"
        /// The job was cancelled (by the caller or by a shutdown).
        public static let cancelled: Code = "cancelled"
        /// The queue is at capacity and the pool is set to refuse rather than wait.
        public static let queueFull: Code = "queueFull"
        /// The job needs an isolation mode that this pool does not run (e.g. `debug.crash` in threads).
        public static let isolationRequired: Code = "isolationRequired"
        /// No worker of the pool declares the capabilities the job requires.
        public static let noCapableWorker: Code = "noCapableWorker"
        /// A job with the same id is already queued or running.
        public static let duplicateJob: Code = "duplicateJob"
        /// A handler is already registered for this kind.
        public static let duplicateKind: Code = "duplicateKind"
        /// The pool is shutting down and takes no new jobs.
        public static let shuttingDown: Code = "shuttingDown"
        /// The worker running the job used up its CPU-time limit.
        public static let cpuLimitExceeded: Code = "cpuLimitExceeded"
        /// The worker process running the job broke the wire protocol and was ended.
        public static let protocolError: Code = "protocolError"
        /// Worker processes could not be started (the message says why).
        public static let workerStartFailed: Code = "workerStartFailed"
    }

    /// The error's code.
    public var code: Code
    /// A sentence for people, naming the field, line or limit concerned.
    public var message: String
    /// Whether another attempt may succeed; `nil` uses the code's default (see ``isRetryable``).
    public var retryable: Bool?

    public init(_ code: Code, _ message: String, retryable: Bool? = nil) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    /// Whether the pool retries a job that failed with this error while it has retries left.
    /// Bad input never succeeds on a second try, so only run-time failures are retried by default.
    public var isRetryable: Bool {
        if let retryable { return retryable }
        switch code {
        case .handlerFailed, .timedOut, .workerCrashed, .memoryLimitExceeded, .cpuLimitExceeded, .protocolError: return true
        default: return false
        }
    }

    public var description: String { "\(code): \(message)" }
}
