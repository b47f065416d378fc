public import Logging
import Synchronization

/// What a handler knows of the job it runs, and how it talks back to the pool.
public struct JobContext: Sendable {
    /// The job's id.
    public let jobID: JobID
    /// The job's kind.
    public let kind: String
    /// The job's priority.
    public let priority: Priority
    /// The attempt, 1 for the first.
    public let attempt: Int
    /// The worker running the job.
    public let worker: WorkerID
    /// Where the worker runs.
    public let isolation: Isolation
    /// What the job may use of memory its input controls; handlers check their input against it.
    public let limits: ResourceLimits
    /// The trace of this attempt (its `offload.run` span), for the handler's own spans:
    /// `withSpan("resize", context: context.trace.serviceContext) { … }`. Empty when the
    /// program does not trace.
    public let trace: TraceHeaders
    private let baseLogger: Logger
    private let host: (any WorkerHost)?

    init(assignment: Assignment, worker: WorkerID, isolation: Isolation, limits: ResourceLimits, logger: Logger, host: (any WorkerHost)?) {
        self.jobID = assignment.job.id
        self.kind = assignment.job.kind
        self.priority = assignment.job.priority
        self.attempt = assignment.attempt
        self.worker = worker
        self.isolation = isolation
        self.limits = limits
        self.trace = assignment.job.trace
        self.baseLogger = logger
        self.host = host
    }

    /// A logger with the job's id, kind and attempt as metadata.
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "job"] = "\(jobID)"
        logger[metadataKey: "kind"] = "\(kind)"
        logger[metadataKey: "attempt"] = "\(attempt)"
        return logger
    }

    /// Reports how far the job has come, 0…1, with an optional note; the pool emits a `jobProgress` event.
    public func reportProgress(_ fraction: Double, message: String? = nil) {
        host?.progress(of: jobID, attempt: attempt, fraction: min(max(fraction, 0), 1), message: message)
    }

    /// Whether the pool asked the job to stop (timeout, cancellation, preemption or shutdown).
    /// It reads the current task's state: on a thread of the handler's own, use
    /// ``withCancellationCheck(_:)``.
    public var isCancelled: Bool { Task.isCancelled }

    /// Runs `body` with a check that tells, from any thread, whether the pool asked the job to
    /// stop (`Task.isCancelled` only sees the task it is called from, so threads a handler starts
    /// for itself would never see the request).
    public func withCancellationCheck<T>(_ body: (_ isCancelled: @escaping @Sendable () -> Bool) async throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await body { flag.isSet }
        } onCancel: {
            flag.set()
        }
    }

    /// Throws `CancellationError` when the pool asked the job to stop.
    public func checkCancellation() throws { try Task.checkCancellation() }
}

/// A flag any thread can read, set once when a job is asked to stop.
final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
