import Synchronization

/// A token bucket per client: `perMinute` requests a minute, as a burst of up to a minute's
/// worth after a quiet one. `perMinute` 0 turns it off.
final class RateLimiter: Sendable {
    let perMinute: Int

    private struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
    }

    private let buckets = Mutex([String: Bucket]())
    /// Clients remembered at most; beyond, the full buckets are forgotten.
    private static let maxClients = 10_000

    init(perMinute: Int) {
        self.perMinute = perMinute
    }

    /// Takes one request of `client`'s; `nil` when allowed, else how long until the next one is.
    func take(_ client: String, now: ContinuousClock.Instant = .now) -> Duration? {
        guard perMinute > 0 else { return nil }
        let capacity = Double(perMinute)
        let perSecond = capacity / 60
        return buckets.withLock { buckets in
            if buckets.count >= Self.maxClients {
                // Full buckets are as good as new ones; past that, the clients heard from longest ago go.
                buckets = buckets.filter { refill($0.value, now: now, perSecond: perSecond, capacity: capacity).tokens < capacity }
                if buckets.count >= Self.maxClients / 2 {
                    let newest = buckets.sorted { $0.value.at > $1.value.at }.prefix(Self.maxClients / 2)
                    buckets = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
                }
            }
            var bucket = buckets[client].map { refill($0, now: now, perSecond: perSecond, capacity: capacity) } ?? Bucket(tokens: capacity, at: now)
            defer { buckets[client] = bucket }
            guard bucket.tokens >= 1 else {
                return .microseconds(Int64(((1 - bucket.tokens) / perSecond * 1_000_000).rounded(.up)))
            }
            bucket.tokens -= 1
            return nil
        }
    }

    private func refill(_ bucket: Bucket, now: ContinuousClock.Instant, perSecond: Double, capacity: Double) -> Bucket {
        let seconds = Double((now - bucket.at).components.seconds) + Double((now - bucket.at).components.attoseconds) / 1e18
        return Bucket(tokens: min(capacity, bucket.tokens + seconds * perSecond), at: now)
    }
}
