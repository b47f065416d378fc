package import Offload

/// A Unicode date pattern (`yyyy-MM-dd HH:mm`, `EEE d MMM yyyy`, `h:mm a`): `yyyy yy MMMM MMM MM
/// M dd d EEEE EEE HH H hh h mm m ss s SSS a`, text in single quotes, other characters as they are.
package struct DatePattern: Sendable {
    private enum Token: Sendable {
        case literal(String)
        /// A pattern letter (ASCII) and how many times it is repeated.
        case field(UInt8, Int)
    }

    private let tokens: [Token]
    /// The length of the finest unit shown, in seconds (`nil` with milliseconds).
    private let unitSeconds: Double?
    private static let letters: Set<Character> = ["y", "M", "d", "E", "H", "h", "m", "s", "S", "a"]

    /// The longest pattern, in characters (each record's text is about as long).
    package static let maxLength = 256

    package init(_ pattern: String, field: String) throws(OffloadError) {
        guard pattern.count <= Self.maxLength else {
            throw OffloadError(
                .invalidPayload,
                "\(field): the date pattern is \(OffloadError.grouped(pattern.count)) characters, over the limit of \(Self.maxLength)")
        }
        var tokens: [Token] = []
        var characters = Array(pattern)[...]
        while let character = characters.first {
            if character == "'" {
                characters.removeFirst()
                var text = ""
                while let next = characters.popFirst(), next != "'" { text.append(next) }
                tokens.append(.literal(text.isEmpty ? "'" : text))
            } else if Self.letters.contains(character) {
                var count = 0
                while characters.first == character {
                    characters.removeFirst()
                    count += 1
                }
                tokens.append(.field(character.asciiValue!, count))
            } else if character.isLetter {
                throw OffloadError(
                    .invalidPayload, "\(field): '\(character)' is not a pattern letter (use yyyy MM dd HH mm ss SSS EEE a, and quotes for text)")
            } else {
                characters.removeFirst()
                tokens.append(.literal(String(character)))
            }
        }
        self.tokens = tokens
        var unit: Double? = 86400
        for case .field(let letter, _) in tokens {
            switch letter {
            case UInt8(ascii: "S"): unit = nil
            case UInt8(ascii: "s"): unit = unit.map { min($0, 1) }
            case UInt8(ascii: "m"): unit = unit.map { min($0, 60) }
            case UInt8(ascii: "H"), UInt8(ascii: "h"), UInt8(ascii: "a"): unit = unit.map { min($0, 3600) }
            default: break
            }
        }
        unitSeconds = unit
    }

    /// The number of the unit of the finest field the pattern shows (minutes for `HH:mm`, days
    /// for `yyyy-MM-dd`) that the local time `seconds` falls in: the formatted text is the same
    /// for times in the same unit. `nil` for a pattern showing milliseconds.
    func unitOfLocalTime(_ seconds: Double) -> Int64? {
        guard let unitSeconds else { return nil }
        return Int64((seconds / unitSeconds).rounded(.down))
    }

    private static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"
    ]
    private static let days = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"]

    /// The times a pattern formats, in seconds since 1970: the years 1 to 9999 (ISO 8601's
    /// four-digit years). Callers give `nil` for others; `format` writes nothing for them.
    package static let supportedSeconds: ClosedRange<Double> = -62_135_596_800...253_402_300_799

    package func format(_ seconds: Double, offsetSeconds: Int) -> String {
        let local = seconds + Double(offsetSeconds)
        // Beyond it, the day arithmetic below would overflow (a trap, not an error).
        guard local.isFinite, abs(local) < 3e12 else { return "" }
        let whole = local.rounded(.down)
        let milliseconds = Int(((local - whole) * 1000).rounded(.down))
        let days = Int((whole / 86400).rounded(.down))
        let secondOfDay = Int(whole) - days * 86400
        let (year, month, day) = Self.civil(fromDays: days)
        let (hour, minute, second) = (secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        func padded(_ value: Int, _ width: Int) {
            var digits = 1
            var rest = abs(value)
            while rest >= 10 {
                rest /= 10
                digits += 1
            }
            if value < 0 { out.append(UInt8(ascii: "-")) }
            for _ in digits..<max(width, digits) { out.append(UInt8(ascii: "0")) }
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            rest = abs(value)
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        let weekday = ((days % 7) + 7) % 7
        for token in tokens {
            switch token {
            case .literal(let text): out.append(contentsOf: text.utf8)
            case .field(let letter, let count):
                switch letter {
                case UInt8(ascii: "y"): count == 2 ? padded(year % 100, 2) : padded(year, count)
                case UInt8(ascii: "M"):
                    if count >= 4 {
                        out.append(contentsOf: Self.months[month - 1].utf8)
                    } else if count == 3 {
                        out.append(contentsOf: Self.months[month - 1].utf8.prefix(3))
                    } else {
                        padded(month, count)
                    }
                case UInt8(ascii: "d"): padded(day, count)
                case UInt8(ascii: "E"): out.append(contentsOf: count >= 4 ? Self.days[weekday].utf8[...] : Self.days[weekday].utf8.prefix(3))
                case UInt8(ascii: "H"): padded(hour, count)
                case UInt8(ascii: "h"): padded(hour % 12 == 0 ? 12 : hour % 12, count)
                case UInt8(ascii: "m"): padded(minute, count)
                case UInt8(ascii: "s"): padded(second, count)
                case UInt8(ascii: "S"):
                    let start = out.count
                    padded(milliseconds, 3)
                    out.removeLast(max(0, out.count - start - count))
                default: out.append(contentsOf: (hour < 12 ? "AM" : "PM").utf8)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Days since 1970-01-01 of a date (Howard Hinnant's algorithm).
    static func days(fromYear year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Year, month, day from days since 1970-01-01 (the core's `ISO8601.civilFromDays`).
    package static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let date = ISO8601.civilFromDays(days)
        return (date.year, date.month, date.day)
    }
}
