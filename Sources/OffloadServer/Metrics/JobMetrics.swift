import Offload
import Synchronization

/// What the pools of a service did, by pool and kind: jobs ended (by status), attempts retried,
/// snoozed and preempted, and the time jobs waited and ran. Counted from each pool's events as they
/// happen, so it holds for every job of the pool: submitted through the API, drawn as a card,
/// or submitted by the program itself with `pool.submit`.
final class JobMetrics: Sendable {
    struct Key: Hashable, Comparable {
        var pool: String
        var kind: String

        static func < (a: Key, b: Key) -> Bool { (a.pool, a.kind) < (b.pool, b.kind) }
    }

    final class Series: Sendable {
        let ended = Mutex([JobStatus: Int]())
        let retried = Atomic(0)
        let snoozed = Atomic(0)
        let preempted = Atomic(0)
        let wait = Histogram()
        let run = Histogram()
    }

    /// The most (pool, kind) pairs counted: kinds are the registry's, so a bound is only a
    /// guard against a pool with thousands of kinds.
    static let maxSeries = 1_000

    private let series = Mutex([Key: Series]())

    /// Starts counting `pool`'s jobs (for the pool's life).
    func observe(_ pool: WorkerPool) {
        let name = pool.configuration.name
        _ = pool.observeEvents { [self] event in
            switch event {
            case .jobFailed(let info, let outcome) where outcome.error?.snoozeFor != nil:
                // A pool serving a durable queue ends a snoozed attempt; the queue runs it again.
                series(pool: name, kind: info.kind)?.snoozed.add(1, ordering: .relaxed)
            case .jobCompleted(let info, let outcome), .jobFailed(let info, let outcome), .jobCancelled(let info, let outcome):
                guard let series = series(pool: name, kind: info.kind) else { return }
                series.ended.withLock { $0[outcome.status, default: 0] += 1 }
                // A job cancelled before it ran has no wait or run time to speak of.
                if outcome.attempts > 0 {
                    series.wait.record(outcome.waitTime)
                    series.run.record(outcome.runTime)
                }
            case .attemptFailed(let info, let error) where error.snoozeFor != nil:
                series(pool: name, kind: info.kind)?.snoozed.add(1, ordering: .relaxed)
            case .attemptFailed(let info, _):
                series(pool: name, kind: info.kind)?.retried.add(1, ordering: .relaxed)
            case .jobPreempted(let info):
                series(pool: name, kind: info.kind)?.preempted.add(1, ordering: .relaxed)
            default:
                break
            }
        }
    }

    /// Every series, in a stable order.
    var all: [(key: Key, series: Series)] {
        series.withLock { $0.map { ($0.key, $0.value) } }.sorted { $0.key < $1.key }
    }

    private func series(pool: String, kind: String) -> Series? {
        series.withLock { table in
            if let existing = table[Key(pool: pool, kind: kind)] { return existing }
            guard table.count < Self.maxSeries else { return nil }
            let made = Series()
            table[Key(pool: pool, kind: kind)] = made
            return made
        }
    }
}
