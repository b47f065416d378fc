import Synchronization

/// The threads of a pool left stuck in jobs that ignored a stop request (thread isolation),
/// counted so that a stream of such jobs cannot grow the host's threads without bound: past
/// `limit`, no new worker thread starts.
final class AbandonedThreads: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var current: Int { count.load(ordering: .relaxed) }

    func add() { count.add(1, ordering: .relaxed) }

    func remove() { count.subtract(1, ordering: .relaxed) }

    /// Why a worker may not start now, or `nil` when it may.
    var refusal: OffloadError? {
        let stuck = current
        guard stuck >= limit else { return nil }
        return OffloadError(
            .workerStartFailed,
            "\(stuck) worker threads are stuck in jobs that ignored a stop request (maxAbandonedThreads is \(limit)); no worker thread starts until one returns. A job that may ignore its timeout belongs in process isolation, where it is killed"
        )
    }
}
