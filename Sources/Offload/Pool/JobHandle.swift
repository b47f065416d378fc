import Synchronization

/// A submitted job: await its outcome, watch its progress, or cancel it.
///
/// ```swift
/// let handle = try await pool.submit(Job(kind: "debug.sleep", payload: .json(["ms": 50])))
/// let outcome = await handle.outcome
/// ```
public final class JobHandle: Sendable {
    /// The job's id.
    public let id: JobID
    private let pool: WorkerPool
    private let state = Mutex(State())

    private struct State {
        var outcome: JobOutcome?
        var waiters: [CheckedContinuation<JobOutcome, Never>] = []
        var progress: JobProgress?
    }

    init(id: JobID, pool: WorkerPool) {
        self.id = id
        self.pool = pool
    }

    /// How the job ended; waits until it does.
    public var outcome: JobOutcome {
        get async {
            if let done = state.withLock({ $0.outcome }) { return done }
            return await withCheckedContinuation { continuation in
                let done: JobOutcome? = state.withLock { state in
                    if let outcome = state.outcome { return outcome }
                    state.waiters.append(continuation)
                    return nil
                }
                if let done { continuation.resume(returning: done) }
            }
        }
    }

    /// The outcome if the job has ended, without waiting.
    public var currentOutcome: JobOutcome? { state.withLock { $0.outcome } }

    /// The last progress the handler reported.
    public var progress: JobProgress? { state.withLock { $0.progress } }

    /// The job's output as `type`; throws the job's error when it failed or was cancelled.
    public func value<T: Decodable>(as type: T.Type) async throws(OffloadError) -> T {
        try await outcome.value(as: type)
    }

    /// Cancels the job: a queued job ends at once, a running one is asked to stop.
    /// - Returns: `false` when the job had already ended.
    @discardableResult
    public func cancel() -> Bool { pool.cancel(id) }

    func resolve(_ outcome: JobOutcome) {
        let waiters = state.withLock { state -> [CheckedContinuation<JobOutcome, Never>] in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    func record(_ progress: JobProgress) {
        state.withLock { $0.progress = progress }
    }
}

/// Progress a handler reported.
public struct JobProgress: Sendable, Hashable {
    /// How far the job has come, 0…1.
    public var fraction: Double
    /// The handler's note, if any.
    public var message: String?
}
