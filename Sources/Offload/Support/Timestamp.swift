/// A moment in UTC, to the microsecond: when a job's step happened. The core keeps no
/// Foundation (a worker process starts faster without it); `Date` converts in one step where
/// Foundation is at hand.
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Double

    public init(secondsSince1970: Double) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The wall clock now.
    public static var now: Timestamp { Timestamp(secondsSince1970: ISO8601.nowSeconds()) }

    /// The time read from ISO 8601 text (`2026-01-31T12:00:00Z`, `…T12:00:00.250+01:00`).
    public init?(iso8601 text: String) {
        guard let seconds = ISO8601.parse(text) else { return nil }
        secondsSince1970 = seconds
    }

    /// ISO 8601 in UTC with milliseconds: `2026-01-31T12:00:00.250Z`.
    public var iso8601: String { ISO8601.format(secondsSince1970) }

    public func adding(_ duration: Duration) -> Timestamp {
        Timestamp(secondsSince1970: secondsSince1970 + Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.secondsSince1970 < rhs.secondsSince1970 }
}
