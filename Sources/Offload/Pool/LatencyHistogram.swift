/// A histogram of durations with log-linear buckets (under 1 % relative error), fixed in size
/// however many values it records: a pool can keep one for its whole life.
package struct LatencyHistogram: Sendable {
    private static let subBucketBits = 7
    private static let subBuckets = 1 << subBucketBits
    private var counts: [UInt64]
    /// Values recorded.
    package private(set) var count: UInt64 = 0
    private var maxNanos: Int64 = 0

    package init() {
        counts = Array(repeating: 0, count: (64 - LatencyHistogram.subBucketBits + 1) * LatencyHistogram.subBuckets)
    }

    private static func index(_ nanos: UInt64) -> Int {
        if nanos < UInt64(subBuckets) { return Int(nanos) }
        let magnitude = 63 - nanos.leadingZeroBitCount
        let shift = magnitude - subBucketBits
        return (shift + 1) * subBuckets + Int(nanos >> UInt64(shift)) - subBuckets
    }

    private static func value(at index: Int) -> Double {
        if index < subBuckets { return Double(index) }
        let shift = index / subBuckets - 1
        let mantissa = index % subBuckets + subBuckets
        let low = Double(UInt64(mantissa) << UInt64(shift))
        return low + Double(UInt64(1) << UInt64(shift)) / 2
    }

    /// Adds a value; negative durations count as zero.
    package mutating func record(_ duration: Duration) {
        let nanos = UInt64(max(duration.nanoseconds, 0))
        counts[Self.index(nanos)] += 1
        count += 1
        maxNanos = max(maxNanos, Int64(nanos))
    }

    /// The value below which `quantile` (0…1) of the recorded values fall; zero when empty.
    package func percentile(_ quantile: Double) -> Duration {
        guard count > 0 else { return .zero }
        let rank = UInt64((min(max(quantile, 0), 1) * Double(count)).rounded(.up))
        var seen: UInt64 = 0
        for (index, bucket) in counts.enumerated() where bucket > 0 {
            seen += bucket
            if seen >= max(rank, 1) {
                return .nanoseconds(Int64(min(Self.value(at: index), Double(maxNanos))))
            }
        }
        return .nanoseconds(maxNanos)
    }
}
