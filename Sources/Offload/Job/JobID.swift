#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of a job. Generated ids are UUID version 7 (RFC 9562: 48 bits of milliseconds
/// since 1970, then random bits), unique across processes and restarts and ordered by time of
/// creation, as the durable queue needs; a job file's ids are the file's own.
public struct JobID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    /// A new UUID v7 identifier, as `0193a1c4-5e2b-7d3f-9a41-6b0c2e8f1d77`.
    public static func generate() -> JobID {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let milliseconds = UInt64(clock.tv_sec) &* 1_000 &+ UInt64(clock.tv_nsec) / 1_000_000
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let more = generator.next() as UInt64
        // 48 bits of time, version 7, 12 random bits; variant 0b10, 62 random bits.
        let high = milliseconds << 16 | 0x7000 | (random & 0x0FFF)
        let low = (more & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let hex = Self.hex(high, digits: 16) + Self.hex(low, digits: 16)
        let digits = Array(hex)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(digits[$0]) }
        return JobID(groups.joined(separator: "-"))
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
