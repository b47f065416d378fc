import Offload
import OffloadData

/// The size of a time bucket; buckets start at whole units in UTC (weeks on Mondays).
public enum Granularity: String, Sendable, CaseIterable {
    case second, minute, hour, day, week, month, quarter, year

    /// The start of the bucket holding `seconds` (since 1970, UTC).
    func bucketStart(_ seconds: Double) -> Double {
        let whole = seconds.rounded(.down)
        switch self {
        case .second: return whole
        case .minute: return (whole / 60).rounded(.down) * 60
        case .hour: return (whole / 3600).rounded(.down) * 3600
        case .day: return (whole / 86400).rounded(.down) * 86400
        case .week:
            let days = Int((whole / 86400).rounded(.down))
            // 1970-01-01 was a Thursday: Monday is 3 days before.
            let monday = days - ((days + 3) % 7 + 7) % 7
            return Double(monday) * 86400
        case .month, .quarter, .year:
            let (year, month, _) = DatePattern.civil(fromDays: Int((whole / 86400).rounded(.down)))
            let first =
                switch self {
                case .month: month
                case .quarter: (month - 1) / 3 * 3 + 1
                default: 1
                }
            return Double(ISO8601.daysFromCivil(year, first, 1)) * 86400
        }
    }
}
