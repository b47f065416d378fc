#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The identity of a job. Generated ids are UUID version 7 (RFC 9562: 48 bits of milliseconds
/// since 1970, then random bits), unique across processes and restarts and ordered by time of
/// creation, as the durable queue needs; a job file's ids are the file's own.
public struct JobID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    /// The id's hash, made once: the pool keys several tables by job id, and a generated id is
    /// 36 bytes to hash. Seeded per process like every `Hasher`, so ids from outside cannot be
    /// chosen to collide.
    private let hashCode: Int

    public init(_ rawValue: String) {
        self.rawValue = rawValue
        var hasher = Hasher()
        hasher.combine(rawValue)
        hashCode = hasher.finalize()
    }

    public init(stringLiteral value: String) { self.init(value) }

    public static func == (lhs: JobID, rhs: JobID) -> Bool { lhs.hashCode == rhs.hashCode && lhs.rawValue == rhs.rawValue }

    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }

    public var description: String { rawValue }

    /// A new UUID v7 identifier, as `0193a1c4-5e2b-7d3f-9a41-6b0c2e8f1d77`.
    ///
    /// The 74 bits after the time come from SplitMix64 over a counter that starts at a random
    /// point in each process: no two ids of one process are alike, ids of two processes collide
    /// with a chance of about 2⁻⁷⁴ a pair, and no id costs a system call for randomness.
    public static func generate() -> JobID {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let milliseconds = UInt64(clock.tv_sec) &* 1_000 &+ UInt64(clock.tv_nsec) / 1_000_000
        let step = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        // A bijection of the counter: 64 distinct bits per id, 62 in the low half and 2 beside
        // 10 more bits (of a second mix) in the 12 after the version.
        let unique = mix(step)
        let extra = mix(step ^ 0xD6E8_FEB8_6659_FD93)
        let high = milliseconds << 16 | 0x7000 | (unique >> 62) << 10 | (extra & 0x3FF)
        let low = unique & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return JobID(
            String(unsafeUninitializedCapacity: 36) { text in
                let digits: StaticString = "0123456789abcdef"
                var at = 0
                func put(_ value: UInt64, nibbles: ClosedRange<Int>) {
                    for nibble in nibbles.reversed() {
                        text[at] = digits.utf8Start[Int(value >> (UInt64(nibble) * 4) & 0xF)]
                        at += 1
                    }
                }
                put(high, nibbles: 8...15)
                text[at] = 0x2D
                at += 1
                put(high, nibbles: 4...7)
                text[at] = 0x2D
                at += 1
                put(high, nibbles: 0...3)
                text[at] = 0x2D
                at += 1
                put(low, nibbles: 12...15)
                text[at] = 0x2D
                at += 1
                put(low, nibbles: 0...11)
                return at
            })
    }

    private static let counter = Atomic<UInt64>(
        {
            var generator = SystemRandomNumberGenerator()
            return generator.next()
        }())

    /// SplitMix64's output function.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
