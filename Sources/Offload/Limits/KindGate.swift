/// The pool's side of ``KindLimits``: which kinds may start a job now, and when a kind held back
/// by its rate opens again. Each kind's jobs wait in lanes of their own (``QueueLane/kind``), so
/// that a kind held back never blocks the others behind it.
struct KindGate {
    private(set) var limits: [String: KindLimits]
    /// Per rate-limited kind, when its next start is due (see ``KindLimits/Rate``).
    private var nextStart: [String: ContinuousClock.Instant] = [:]

    init(_ limits: [String: KindLimits]) {
        self.limits = limits.filter { !$0.value.isUnlimited }
    }

    mutating func set(_ kindLimits: KindLimits, for kind: String) {
        if kindLimits.isUnlimited {
            limits[kind] = nil
        } else {
            limits[kind] = kindLimits
        }
        if kindLimits.rate == nil { nextStart[kind] = nil }
    }

    /// The kinds that may not start a job at `now`, with the earliest time one held back by its
    /// rate opens. `running` counts a kind's jobs handed to workers (asked only of kinds with a
    /// concurrency limit).
    func closedKinds(now: ContinuousClock.Instant, running: (String) -> Int) -> (kinds: Set<String>, opensAt: ContinuousClock.Instant?) {
        var closed = Set<String>()
        var opensAt: ContinuousClock.Instant?
        for (kind, limit) in limits {
            if let reopening = closedUntil(kind, limit, now: now, running: running) {
                closed.insert(kind)
                if let at = reopening, opensAt.map({ at < $0 }) ?? true { opensAt = at }
            }
        }
        return (closed, opensAt)
    }

    /// Whether `kind` may start one more job at `now`.
    func admits(_ kind: String, now: ContinuousClock.Instant, running: (String) -> Int) -> Bool {
        guard let limit = limits[kind] else { return true }
        return closedUntil(kind, limit, now: now, running: running) == nil
    }

    /// `nil` when the kind is open; else when it opens (`.some(nil)`: not by time alone).
    private func closedUntil(
        _ kind: String, _ limit: KindLimits, now: ContinuousClock.Instant, running: (String) -> Int
    ) -> ContinuousClock.Instant?? {
        if limit.isPaused { return .some(nil) }
        if let maxConcurrent = limit.maxConcurrent, running(kind) >= maxConcurrent { return .some(nil) }
        if limit.rate != nil, let next = nextStart[kind], next > now { return .some(next) }
        return nil
    }

    /// A job of `kind` starts: its rate's allowance is used.
    mutating func started(_ kind: String, now: ContinuousClock.Instant) {
        // Every job passes here: a pool without limits hashes no kind.
        guard !limits.isEmpty, let rate = limits[kind]?.rate else { return }
        nextStart[kind] = max(nextStart[kind] ?? now, now - rate.slack) + rate.spacing
    }
}
