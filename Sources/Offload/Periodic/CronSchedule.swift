public import Foundation

/// When a periodic job is due: a cron expression read as Vixie cron reads it, its ticks computed
/// in a time zone.
///
/// Five fields (minute, hour, day of month, month, day of week) or six (seconds first); each a
/// `*`, a number, a range `a-b`, a list `a,b`, any of them with a step (`*/15`, `8-18/2`);
/// months and days may be named (`JAN`, `MON`; Sunday is 0 or 7). `@yearly`, `@annually`,
/// `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for their expressions. When
/// both the day of month and the day of week are given (neither is `*`), a day matching either
/// is due, as in cron.
///
/// Across a daylight-saving change a tick is never lost and never doubled: the ticks of a wall
/// time the change skips run once, at the change; a wall time that happens twice runs the first
/// time only.
///
/// ```swift
/// let weekdays = try CronSchedule("0 9 * * MON-FRI")
/// let next = weekdays.next(after: Date(), in: TimeZone(identifier: "Europe/Paris")!)
/// ```
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    /// The expression as given.
    public let expression: String

    let seconds: FieldSet
    let minutes: FieldSet
    let hours: FieldSet
    let days: FieldSet
    let months: FieldSet
    let weekdays: FieldSet
    /// Whether the day of month and the day of week were each given (not `*`).
    let daysGiven: Bool
    let weekdaysGiven: Bool

    /// The longest expression read.
    public static let maxLength = 256

    /// - Throws: ``OffloadError/Code/invalidPayload`` naming the field that does not read, or
    ///   saying that the expression never comes due (`0 0 31 2 *`).
    public init(_ expression: String) throws(OffloadError) {
        guard expression.utf8.count <= Self.maxLength else {
            throw OffloadError(.invalidPayload, "a cron expression is at most \(Self.maxLength) bytes")
        }
        self.expression = expression
        let text = expression.trimmingCharacters(in: .whitespaces)
        let expanded: String
        switch text.lowercased() {
        case "@yearly", "@annually": expanded = "0 0 1 1 *"
        case "@monthly": expanded = "0 0 1 * *"
        case "@weekly": expanded = "0 0 * * 0"
        case "@daily", "@midnight": expanded = "0 0 * * *"
        case "@hourly": expanded = "0 * * * *"
        default:
            guard !text.hasPrefix("@") else {
                throw OffloadError(
                    .invalidPayload,
                    "cron: unknown \(OffloadError.quote(text)) (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)")
            }
            expanded = text
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw OffloadError(
                .invalidPayload,
                "cron: \(OffloadError.quote(expression)) has \(fields.count) fields; it needs 5 (minute hour day month weekday) or 6 (seconds first)")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try FieldSet(fields[0], name: "second", range: 0...59)
        minutes = try FieldSet(fields[1], name: "minute", range: 0...59)
        hours = try FieldSet(fields[2], name: "hour", range: 0...23)
        days = try FieldSet(fields[3], name: "day of month", range: 1...31)
        months = try FieldSet(fields[4], name: "month", range: 1...12, names: Self.monthNames)
        // Sunday is 0 or 7.
        var weekdays = try FieldSet(fields[5], name: "day of week", range: 0...7, names: Self.weekdayNames)
        if weekdays.contains(7) { weekdays.insert(0) }
        self.weekdays = weekdays
        daysGiven = !fields[3].hasPrefix("*")
        weekdaysGiven = !fields[5].hasPrefix("*")
        if daysGiven && !weekdaysGiven {
            let reachable = months.values.contains { month in days.values.contains { $0 <= Self.longestMonth(month) } }
            guard reachable else { throw OffloadError(.invalidPayload, "cron: \(OffloadError.quote(expression)) never comes due") }
        }
    }

    public var description: String { expression }

    /// The first tick strictly after `date`, in `zone`; `nil` when none comes within 30 years.
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        let after = date.timeIntervalSince1970
        let afterWall = after + Double(zone.secondsFromGMT(for: date))
        // Wall times map to instants in order (a repeated one to its first, a skipped one to the
        // change), so none before `date`'s own wall time is due after it.
        let earliest = afterWall.rounded(.down)
        var day = Int((earliest / 86_400).rounded(.down))
        let lastDay = day + 30 * 366
        while day <= lastDay {
            defer { day += 1 }
            let (_, month, dayOfMonth) = ISO8601.civilFromDays(day)
            guard months.contains(month), isDue(day: day, dayOfMonth: dayOfMonth) else { continue }
            let start = Double(day) * 86_400
            for hour in hours.values where start + Double(hour * 3_600 + 3_599) >= earliest {
                for minute in minutes.values where start + Double(hour * 3_600 + minute * 60 + 59) >= earliest {
                    for second in seconds.values {
                        let wall = start + Double(hour * 3_600 + minute * 60 + second)
                        guard wall >= earliest, let instant = Self.instant(ofWall: wall, in: zone), instant > after else { continue }
                        return Date(timeIntervalSince1970: instant)
                    }
                }
            }
        }
        return nil
    }

    private func isDue(day: Int, dayOfMonth: Int) -> Bool {
        let weekday = ((day % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
        switch (daysGiven, weekdaysGiven) {
        case (true, true): return days.contains(dayOfMonth) || weekdays.contains(weekday)
        case (true, false): return days.contains(dayOfMonth)
        case (false, true): return weekdays.contains(weekday)
        case (false, false): return true
        }
    }

    /// The instant a wall time (seconds since 1970 as if the zone were UTC) happens in `zone`:
    /// the first of two when a change repeats it, the change itself when a change skips it.
    static func instant(ofWall wall: Double, in zone: TimeZone) -> Double? {
        // The offsets a day either side (wider than any zone's offset): one of them is in force.
        let before = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: wall - 86_400)))
        let later = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: wall + 86_400)))
        let candidates = [wall - before, wall - later].filter {
            Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: $0))) == wall - $0
        }
        if let first = candidates.min() { return first }
        // Skipped by a change: due at the change itself (the first one within the day before).
        return zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: wall - before - 43_200))?.timeIntervalSince1970
    }

    private static func longestMonth(_ month: Int) -> Int { [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] }

    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let weekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
}

/// The values one field of a cron expression allows, as a bit set.
struct FieldSet: Sendable, Hashable {
    private var bits: UInt64 = 0
    /// The values, ascending.
    private(set) var values: [Int] = []

    /// - Parameter names: the names of the values from the range's start (months from 1, days from 0).
    init(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = []) throws(OffloadError) {
        func refuse(_ why: String) -> OffloadError {
            OffloadError(.invalidPayload, "cron: the \(name) field \(OffloadError.quote(text)) \(why)")
        }
        func value(_ part: Substring) throws(OffloadError) -> Int {
            if let number = Int(part) {
                guard range.contains(number) else { throw refuse("has \(number), outside \(range.lowerBound)–\(range.upperBound)") }
                return number
            }
            if let index = names.firstIndex(of: part.uppercased()) { return range.lowerBound + index }
            throw refuse("has \(OffloadError.quote(String(part))), not a number\(names.isEmpty ? "" : " or a name")")
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { throw refuse("does not read") }
            var step = 1
            if parts.count == 2 {
                guard let given = Int(parts[1]), given >= 1, given <= range.upperBound + 1 else {
                    throw refuse("has a step that is not a whole number from 1 to \(range.upperBound + 1)")
                }
                step = given
            }
            let low: Int
            let high: Int
            if parts[0] == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = parts[0].firstIndex(of: "-") {
                low = try value(parts[0][..<dash])
                high = try value(parts[0][parts[0].index(after: dash)...])
                guard low <= high else { throw refuse("has a range that runs backwards") }
            } else {
                low = try value(parts[0])
                high = parts.count == 2 ? range.upperBound : low
            }
            for value in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(value) }
        }
        values = (0..<64).filter(contains)
    }

    func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0 }

    mutating func insert(_ value: Int) {
        bits |= 1 << UInt64(value)
        values = (0..<64).filter(contains)
    }
}
