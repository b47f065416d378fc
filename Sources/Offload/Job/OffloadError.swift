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
        /// The job needed more than one of its ``ResourceLimits`` allows (the message names the
        /// budget and its size), or a payload or result too large to carry.
        public static let resourceLimitExceeded: Code = "resourceLimitExceeded"
        /// A pool, worker or option was configured with a value it cannot use.
        public static let invalidConfiguration: Code = "invalidConfiguration"
        /// The host running a durable job stopped renewing its lease (it died or lost the
        /// database), and the job had no attempts left.
        public static let leaseExpired: Code = "leaseExpired"
        /// A job's output was read as a type it does not decode to (the job itself completed).
        public static let resultTypeMismatch: Code = "resultTypeMismatch"
        /// A durable queue's database refused a value of the job (the message names it): the job
        /// is refused when submitted, or, for a result, ends failed with this code.
        public static let unstorable: Code = "unstorable"
        /// A durable queue's database did not answer (a restart, a lost connection); trying
        /// again later may succeed.
        public static let queueUnavailable: Code = "queueUnavailable"
        /// The handler asked to run the job again later (``OffloadError/snooze(for:_:)``); a job
        /// never ends with it.
        public static let snoozed: Code = "snoozed"
        /// A job it depends on failed or was cancelled (the message names it), so the job was
        /// cancelled without running (``DependencyFailurePolicy/cancel``).
        public static let dependencyFailed: Code = "dependencyFailed"
        /// A job names dependencies the pool or queue does not know, or that form a cycle.
        public static let invalidDependency: Code = "invalidDependency"
    }

    /// The error's code.
    public var code: Code
    /// A sentence for people, naming the field, line or limit concerned.
    public var message: String
    /// Whether another attempt may succeed; `nil` uses the code's default (see ``isRetryable``).
    public var retryable: Bool?
    /// How long a snoozed job waits before it runs again (``snooze(for:_:)``); `nil` for every
    /// other error.
    public private(set) var snoozeFor: Duration?

    /// - Parameter message: longer than ``maxMessageLength`` characters, it is cut in the middle.
    public init(_ code: Code, _ message: String, retryable: Bool? = nil) {
        self.code = code
        self.message = Self.bounded(message)
        self.retryable = retryable
    }

    /// Thrown by a handler: the job goes back to its queue and runs again after `delay`, without
    /// using one of its retries (as River's and Oban's snooze). The attempt counts in its number
    /// and its history says `snoozed`; a job is snoozed at most until its attempt
    /// ``maxAttempts`` — after that the snooze fails it.
    ///
    /// ```swift
    /// guard try await upstream.isReady() else { throw OffloadError.snooze(for: .seconds(30), "upstream not ready") }
    /// ```
    /// - Parameter delay: 0 to ``maxSnooze`` (longer is cut to it).
    public static func snooze(for delay: Duration, _ reason: String = "") -> OffloadError {
        var error = OffloadError(.snoozed, reason)
        error.snoozeFor = min(max(delay, .zero), maxSnooze)
        return error
    }

    /// How a job that snoozed until ``maxAttempts`` ends.
    static let snoozedTooOften = OffloadError(
        .resourceLimitExceeded, "the job snoozed until its attempt \(maxAttempts), the most a job makes")

    /// The longest snooze: a week.
    public static let maxSnooze = Duration.seconds(7 * 24 * 3_600)

    /// The highest attempt number a job reaches by snoozing: a job that snoozes forever ends
    /// failed (`resourceLimitExceeded`) rather than loop without end.
    public static let maxAttempts = 1_000

    /// The longest message an error keeps: a message quoting its input must not carry all of it
    /// (a 10 MB number in a payload would make a 10 MB result line).
    public static let maxMessageLength = 2_000

    private static func bounded(_ message: String) -> String {
        guard message.utf8.count > maxMessageLength else { return message }
        let head = message.prefix(maxMessageLength * 3 / 4)
        let tail = message.suffix(maxMessageLength / 8)
        return "\(head)… (\(grouped(message.utf8.count - head.utf8.count - tail.utf8.count)) bytes left out) …\(tail)"
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
