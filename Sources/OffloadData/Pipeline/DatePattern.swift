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
    private static let letters: Set<Character> = ["y", "M", "d", "E", "H", "h", "m", "s", "S", "a"]

    package init(_ pattern: String, field: String) throws(OffloadError) {
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
                throw OffloadError(.invalidPayload, "\(field): '\(character)' is not a pattern letter (use yyyy MM dd HH mm ss SSS EEE a, and quotes for text)")
            } else {
                characters.removeFirst()
                tokens.append(.literal(String(character)))
            }
        }
        self.tokens = tokens
    }

    /// `UTC`, `Z` or an offset `+02:00` / `-0530`, in seconds east of UTC.
    static func offset(_ zone: String, field: String) throws(OffloadError) -> Int {
        if zone == "UTC" || zone == "Z" || zone == "GMT" { return 0 }
        let digits = zone.dropFirst().filter { $0 != ":" }
        guard let sign = zone.first, sign == "+" || sign == "-", digits.count == 4, let value = Int(digits) else {
            throw OffloadError(.invalidPayload, "\(field): '\(zone)' is not UTC or an offset like +02:00 (named zones are not supported)")
        }
        let seconds = (value / 100) * 3600 + (value % 100) * 60
        return sign == "-" ? -seconds : seconds
    }

    private static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    private static let days = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"]

    package func format(_ seconds: Double, offsetSeconds: Int) -> String {
        let local = seconds + Double(offsetSeconds)
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
                    if count >= 4 { out.append(contentsOf: Self.months[month - 1].utf8) } else if count == 3 {
                        out.append(contentsOf: Self.months[month - 1].utf8.prefix(3))
                    } else { padded(month, count) }
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

    /// Year, month, day from days since 1970-01-01 (Howard Hinnant's algorithm).
    package static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
