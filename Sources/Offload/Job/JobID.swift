import Synchronization

/// The identity of a job, unique among the jobs a pool holds at one time.
public struct JobID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    private static let counter = Atomic<Int>(0)

    /// A new identifier, unique within this process (`job-1`, `job-2`, …).
    public static func generate() -> JobID {
        let next = counter.add(1, ordering: .relaxed).newValue
        return JobID("job-\(next)")
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
