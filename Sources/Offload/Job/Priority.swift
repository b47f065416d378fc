/// How urgent a job is: `critical > high > normal > low`; jobs of one level run first in, first out.
public enum Priority: Int, Sendable, Hashable, Comparable, CaseIterable, Codable, CustomStringConvertible {
    case low = 0
    case normal = 1
    case high = 2
    case critical = 3

    public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The name used in job files and results (`"critical"`, `"high"`, `"normal"`, `"low"`).
    public var name: String {
        switch self {
        case .low: "low"
        case .normal: "normal"
        case .high: "high"
        case .critical: "critical"
        }
    }

    public var description: String { name }

    /// Parses a priority name; `nil` when the name is not one of the four levels.
    public init?(name: String) {
        guard let match = Priority.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Levels from the most to the least urgent.
    public static let descending: [Priority] = [.critical, .high, .normal, .low]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let priority = Priority(name: name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "priority '\(name)' is not one of critical, high, normal, low")
        }
        self = priority
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
