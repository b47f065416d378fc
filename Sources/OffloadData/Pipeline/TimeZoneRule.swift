#if canImport(Glibc)
import Glibc
#endif
package import Offload

/// A time zone: UTC, a fixed offset (`+02:00`), or a named zone (`Europe/Paris`) read from the
/// system's time zone database (the TZif files of Debian's `tzdata`), with its daylight-saving
/// changes: the file's transitions, then the POSIX rule at its end for the years after them.
package struct TimeZoneRule: Sendable {
    /// Transition instants (UTC seconds), ascending, and the offset east of UTC from each on.
    private let transitions: [Int64]
    private let offsets: [Int]
    /// The offset before the first transition.
    private let initial: Int
    /// The offsets after the last transition.
    private let rule: PosixRule?

    package static let utc = TimeZoneRule(fixed: 0)

    private init(transitions: [Int64] = [], offsets: [Int] = [], initial: Int, rule: PosixRule? = nil) {
        self.transitions = transitions
        self.offsets = offsets
        self.initial = initial
        self.rule = rule
    }

    private init(fixed offset: Int) {
        self.init(initial: offset)
    }

    /// Reads `UTC`, `Z`, `GMT`, an offset (`+02:00`, `-0530`) or a zone name.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field` for anything else.
    package init(_ zone: String, field: String) throws(OffloadError) {
        if zone == "UTC" || zone == "Z" || zone == "GMT" {
            self.init(fixed: 0)
            return
        }
        if let sign = zone.first, sign == "+" || sign == "-" {
            let digits = zone.dropFirst().filter { $0 != ":" }
            guard digits.count == 4, digits.allSatisfy(\.isASCII), let value = Int(digits), value % 100 < 60, value <= 1800 else {
                throw OffloadError(.invalidPayload, "\(field): \(OffloadError.quote(zone)) is not an offset like +02:00")
            }
            let seconds = (value / 100) * 3600 + (value % 100) * 60
            self.init(fixed: sign == "-" ? -seconds : seconds)
            return
        }
        let allowed = zone.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic && $0.isASCII) || "0123456789/_-+".unicodeScalars.contains($0) }
        guard allowed, !zone.isEmpty, !zone.hasPrefix("/"), !zone.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            throw OffloadError(
                .invalidPayload, "\(field): \(OffloadError.quote(zone)) is not UTC, an offset like +02:00 or a zone name like Europe/Paris")
        }
        let directory = getenv("TZDIR").map { String(cString: $0) } ?? "/usr/share/zoneinfo"
        guard let bytes = Self.read(directory + "/" + zone), let parsed = TZif(bytes) else {
            throw OffloadError(
                .invalidPayload,
                "\(field): \(OffloadError.quote(zone)) is not a known time zone (a name like Europe/Paris, or UTC, or an offset like +02:00)")
        }
        self.init(transitions: parsed.transitions, offsets: parsed.offsets, initial: parsed.initial, rule: parsed.footer.flatMap(PosixRule.init))
    }

    /// Seconds east of UTC at the instant `seconds` (UTC).
    package func offset(at seconds: Double) -> Int {
        let instant = Int64(seconds.rounded(.down))
        guard let first = transitions.first, instant >= first else { return initial }
        if instant >= transitions[transitions.count - 1], let rule { return rule.offset(at: instant) }
        // The last transition at or before the instant.
        var (low, high) = (0, transitions.count - 1)
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= instant { low = middle } else { high = middle - 1 }
        }
        return offsets[low]
    }

    private static func read(_ path: String) -> [UInt8]? {
        try? RegularFile.read(path, maxBytes: 1 << 20)
    }
}

/// The parts of a TZif file (RFC 8536) a time zone needs: version 2+ data, 64-bit times.
private struct TZif {
    var transitions: [Int64] = []
    var offsets: [Int] = []
    var initial = 0
    var footer: String?

    init?(_ bytes: [UInt8]) {
        var reader = Reader(bytes: bytes)
        guard let v1 = reader.header() else { return nil }
        // Version 1's block (32-bit times) is skipped when version 2's follows it.
        if v1.version >= 2 {
            guard reader.skip(v1.timecnt * 5 + v1.typecnt * 6 + v1.charcnt + v1.leapcnt * 8 + v1.isstdcnt + v1.isutcnt),
                let v2 = reader.header()
            else { return nil }
            guard read(&reader, v2, timeSize: 8) else { return nil }
            if reader.byte() == 0x0A, let end = bytes[reader.offset...].firstIndex(of: 0x0A) {
                footer = String(decoding: bytes[reader.offset..<end], as: UTF8.self)
            }
        } else {
            guard read(&reader, v1, timeSize: 4) else { return nil }
        }
    }

    private mutating func read(_ reader: inout Reader, _ header: Reader.Header, timeSize: Int) -> Bool {
        guard header.typecnt > 0 else { return false }
        var times: [Int64] = []
        for _ in 0..<header.timecnt {
            guard let time = reader.integer(timeSize) else { return false }
            times.append(time)
        }
        var indices: [Int] = []
        for _ in 0..<header.timecnt {
            guard let index = reader.byte(), Int(index) < header.typecnt else { return false }
            indices.append(Int(index))
        }
        var types: [Int] = []
        for _ in 0..<header.typecnt {
            guard let offset = reader.integer(4), reader.skip(2), abs(offset) < 100_000 else { return false }
            types.append(Int(offset))
        }
        guard reader.skip(header.charcnt + header.leapcnt * (timeSize + 4) + header.isstdcnt + header.isutcnt) else { return false }
        transitions = times
        offsets = indices.map { types[$0] }
        initial = types[0]
        return zip(times, times.dropFirst()).allSatisfy { $0 < $1 }
    }

    struct Reader {
        struct Header {
            var version: Int
            var isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt: Int
        }
        let bytes: [UInt8]
        var offset = 0

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, offset + count <= bytes.count else { return false }
            offset += count
            return true
        }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            offset += 1
            return bytes[offset - 1]
        }

        /// A big-endian signed integer of `size` bytes.
        mutating func integer(_ size: Int) -> Int64? {
            guard offset + size <= bytes.count else { return nil }
            var value: UInt64 = 0
            for byte in bytes[offset..<(offset + size)] { value = value << 8 | UInt64(byte) }
            offset += size
            let shift = UInt64(64 - size * 8)
            return Int64(bitPattern: value << shift) >> Int64(shift)
        }

        mutating func header() -> Header? {
            guard offset + 44 <= bytes.count, bytes[offset..<(offset + 4)].elementsEqual("TZif".utf8) else { return nil }
            let versionByte = bytes[offset + 4]
            offset += 20
            var counts: [Int] = []
            for _ in 0..<6 {
                guard let count = integer(4), count >= 0, count < 1 << 20 else { return nil }
                counts.append(Int(count))
            }
            let version = versionByte == 0 ? 1 : Int(versionByte) - 0x30
            return Header(
                version: version, isutcnt: counts[0], isstdcnt: counts[1], leapcnt: counts[2],
                timecnt: counts[3], typecnt: counts[4], charcnt: counts[5])
        }
    }
}

/// The POSIX TZ rule at the end of a TZif file (`CET-1CEST,M3.5.0,M10.5.0/3`): a standard offset
/// and, with daylight saving, its offset and the rules of the days it starts and ends each year.
struct PosixRule {
    /// Seconds east of UTC.
    let standard: Int
    let daylight: Int?
    let start: DayRule
    let end: DayRule

    /// `Mm.w.d` (the `d`th weekday, Sunday 0, of week `w` of month `m`, 5 the last), `Jn` (day
    /// 1…365 without leap days) or `n` (day 0…365); then the local time of the change.
    struct DayRule {
        enum Kind { case monthWeekDay(Int, Int, Int), julian(Int), zeroBased(Int) }
        var kind: Kind
        var time = 7200

        /// Seconds from 1970 to the change in year `year`, in the local time in force before it.
        func localSeconds(in year: Int) -> Int {
            let day: Int
            switch kind {
            case .monthWeekDay(let month, let week, let weekday):
                let first = DatePattern.days(fromYear: year, month: month, day: 1)
                // 1970-01-01 was a Thursday (4).
                let firstWeekday = ((first + 4) % 7 + 7) % 7
                var dayOfMonth = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
                let length = DatePattern.days(fromYear: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1) - first
                while dayOfMonth > length { dayOfMonth -= 7 }
                day = first + dayOfMonth - 1
            case .julian(let n):
                let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
                day = DatePattern.days(fromYear: year, month: 1, day: 1) + n - 1 + (leap && n >= 60 ? 1 : 0)
            case .zeroBased(let n):
                day = DatePattern.days(fromYear: year, month: 1, day: 1) + n
            }
            return day * 86400 + time
        }
    }

    init?(_ text: String) {
        var scanner = Scanner(Array(text.utf8))
        guard scanner.name(), let standardWest = scanner.offset() else { return nil }
        standard = -standardWest
        guard scanner.name() else {
            guard scanner.atEnd else { return nil }
            daylight = nil
            start = DayRule(kind: .zeroBased(0))
            end = start
            return
        }
        daylight = scanner.offset().map { -$0 } ?? standard + 3600
        guard scanner.take(UInt8(ascii: ",")), let start = scanner.dayRule(), scanner.take(UInt8(ascii: ",")),
            let end = scanner.dayRule(), scanner.atEnd
        else { return nil }
        self.start = start
        self.end = end
    }

    func offset(at instant: Int64) -> Int {
        guard let daylight else { return standard }
        let year = DatePattern.civil(fromDays: Int(((Double(instant) + Double(standard)) / 86400).rounded(.down))).0
        let begins = Int64(start.localSeconds(in: year) - standard)
        let ends = Int64(end.localSeconds(in: year) - daylight)
        let inDaylight = begins < ends ? (instant >= begins && instant < ends) : (instant < ends || instant >= begins)
        return inDaylight ? daylight : standard
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// A zone abbreviation: three or more letters, or anything in `<…>`.
        mutating func name() -> Bool {
            if take(UInt8(ascii: "<")) {
                guard let close = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else { return false }
                index = close + 1
                return true
            }
            let start = index
            while index < bytes.count, (bytes[index] | 0x20) >= UInt8(ascii: "a"), (bytes[index] | 0x20) <= UInt8(ascii: "z") { index += 1 }
            return index - start >= 3
        }

        mutating func number() -> Int? {
            let start = index
            var value = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, index - start < 4 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
            }
            return index > start ? value : nil
        }

        /// `[+-]hh[:mm[:ss]]` in seconds.
        mutating func offset() -> Int? {
            let negative = take(UInt8(ascii: "-"))
            if !negative { _ = take(UInt8(ascii: "+")) }
            guard let hours = number() else { return nil }
            var seconds = hours * 3600
            if take(UInt8(ascii: ":")) {
                guard let minutes = number() else { return nil }
                seconds += minutes * 60
                if take(UInt8(ascii: ":")) {
                    guard let rest = number() else { return nil }
                    seconds += rest
                }
            }
            return negative ? -seconds : seconds
        }

        mutating func dayRule() -> DayRule? {
            var rule: DayRule
            if take(UInt8(ascii: "M")) {
                guard let month = number(), take(UInt8(ascii: ".")), let week = number(), take(UInt8(ascii: ".")), let weekday = number(),
                    (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday)
                else { return nil }
                rule = DayRule(kind: .monthWeekDay(month, week, weekday))
            } else if take(UInt8(ascii: "J")) {
                guard let day = number(), (1...365).contains(day) else { return nil }
                rule = DayRule(kind: .julian(day))
            } else {
                guard let day = number(), (0...365).contains(day) else { return nil }
                rule = DayRule(kind: .zeroBased(day))
            }
            if take(UInt8(ascii: "/")) {
                guard let time = offset() else { return nil }
                rule.time = time
            }
            return rule
        }
    }
}
