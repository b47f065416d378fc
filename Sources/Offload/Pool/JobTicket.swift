import Synchronization

/// What the pool keeps of a submitted job for those who wait on it: its outcome once it ends,
/// its last progress, and the continuations of the tasks waiting. Every ``JobHandle`` of the job
/// shares it.
final class JobTicket: Sendable {
    let id: JobID
    /// Cancels the job in its pool.
    private let canceller: @Sendable (JobID) -> Bool
    private let state = Mutex(State())

    private struct State {
        var outcome: JobOutcome?
        var waiters: [CheckedContinuation<JobOutcome, Never>] = []
        var progress: JobProgress?
    }

    init(id: JobID, cancel: @escaping @Sendable (JobID) -> Bool) {
        self.id = id
        self.canceller = cancel
    }

    var outcome: JobOutcome {
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

    var currentOutcome: JobOutcome? { state.withLock { $0.outcome } }

    var progress: JobProgress? { state.withLock { $0.progress } }

    func cancel() -> Bool { canceller(id) }

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
