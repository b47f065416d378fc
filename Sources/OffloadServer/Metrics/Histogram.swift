import Synchronization

/// Durations counted into fixed buckets (1 ms to 60 s), with their sum and count: what a
/// Prometheus histogram exposes, kept in constant memory however many values are recorded.
final class Histogram: Sendable {
    /// The buckets' upper bounds, in seconds (the `+Inf` bucket is the count).
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    struct Reading: Sendable {
        /// Values in each bucket alone (not cumulative), one per bound.
        var counts: [Int]
        var sum: Double
        var count: Int
    }

    private let state = Mutex(Reading(counts: Array(repeating: 0, count: Histogram.bounds.count), sum: 0, count: 0))

    func record(_ duration: Duration) {
        let seconds = max(0, Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
        let bucket = Self.bounds.firstIndex { seconds <= $0 }
        state.withLock { reading in
            if let bucket { reading.counts[bucket] += 1 }
            reading.sum += seconds
            reading.count += 1
        }
    }

    var reading: Reading { state.withLock { $0 } }
}
