import Foundation
import Testing
@testable import Offload

/// Cron expressions read as Vixie cron reads them, and their ticks across daylight-saving
/// changes: a skipped wall time runs once, at the change; a repeated one runs the first time only.
@Suite struct CronScheduleTests {
    static let paris = TimeZone(identifier: "Europe/Paris")!
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let utc = TimeZone(identifier: "UTC")!
    static let auckland = TimeZone(identifier: "Pacific/Auckland")!

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    static func text(_ date: Date?) -> String { date.map { ISO8601DateFormatter().string(from: $0) } ?? "none" }

    /// The next `count` ticks after `start`, in UTC.
    func ticks(_ expression: String, after start: String, in zone: TimeZone, count: Int) throws -> [String] {
        let schedule = try CronSchedule(expression)
        var ticks: [String] = []
        var at = Self.date(start)
        for _ in 0..<count {
            guard let next = schedule.next(after: at, in: zone) else { break }
            ticks.append(Self.text(next))
            at = next
        }
        return ticks
    }

    @Test(arguments: [
        // Paris springs forward on 29 March 2026 at 02:00 CET (01:00Z) to 03:00 CEST.
        ("30 2 * * *", "2026-03-28T00:00:00Z", "paris", ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        ("0 * * * *", "2026-03-29T00:30:00Z", "paris", ["2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"]),
        // Paris falls back on 25 October 2026 at 03:00 CEST (01:00Z) to 02:00 CET: 02:30 happens twice.
        ("30 2 * * *", "2026-10-24T12:00:00Z", "paris", ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        ("*/30 * * * *", "2026-10-24T23:45:00Z", "paris", ["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"]),
        // New York springs forward on 8 March 2026 at 02:00 EST (07:00Z) to 03:00 EDT.
        ("0 2 * * *", "2026-03-07T12:00:00Z", "newYork", ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"]),
        ("15 2 * * *", "2026-03-08T06:59:59Z", "newYork", ["2026-03-08T07:00:00Z", "2026-03-09T06:15:00Z"]),
        // New York falls back on 1 November 2026 at 02:00 EDT (06:00Z) to 01:00 EST: 01:30 happens twice.
        ("30 1 * * *", "2026-10-31T12:00:00Z", "newYork", ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        ("0 * * * *", "2026-11-01T04:30:00Z", "newYork", ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"]),
        // Auckland (+13 in summer) falls back on 5 April 2026 at 03:00 NZDT (4 April 14:00Z) and
        // springs forward on 27 September 2026 at 02:00 NZST (26 September 14:00Z).
        ("30 2 * * *", "2026-04-04T00:00:00Z", "auckland", ["2026-04-04T13:30:00Z", "2026-04-05T14:30:00Z"]),
        ("30 2 * * *", "2026-09-26T00:00:00Z", "auckland", ["2026-09-26T14:00:00Z", "2026-09-27T13:30:00Z"]),
        // Names, ranges, steps, seconds, macros, leap days, and day of month OR day of week.
        ("0 9 * * MON-FRI", "2026-12-04T10:00:00Z", "utc", ["2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z"]),
        ("*/20 * * * * *", "2026-01-01T00:00:05Z", "utc", ["2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"]),
        ("@monthly", "2026-01-15T00:00:00Z", "utc", ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
        ("@hourly", "2026-01-01T00:00:00Z", "utc", ["2026-01-01T01:00:00Z"]),
        ("0 0 29 2 *", "2026-01-01T00:00:00Z", "utc", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        ("0 0 13 * FRI", "2026-02-01T00:00:00Z", "utc", ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"]),
        ("0 12 * JAN,jul 7", "2026-06-30T00:00:00Z", "utc", ["2026-07-05T12:00:00Z", "2026-07-12T12:00:00Z"]),
        (
            "5/20 8-10/2 * * *", "2026-01-01T00:00:00Z", "utc",
            ["2026-01-01T08:05:00Z", "2026-01-01T08:25:00Z", "2026-01-01T08:45:00Z", "2026-01-01T10:05:00Z"]
        )
    ])
    func ticksAreComputedAsCronDoes(expression: String, after: String, zone: String, expected: [String]) throws {
        let zones = ["paris": Self.paris, "newYork": Self.newYork, "utc": Self.utc, "auckland": Self.auckland]
        #expect(try ticks(expression, after: after, in: zones[zone]!, count: expected.count) == expected)
    }

    @Test func badExpressionsAreRefusedNamingTheField() {
        for (expression, words) in [
            ("* * * *", "has 4 fields"), ("60 * * * *", "the minute field"), ("* 24 * * *", "the hour field"),
            ("* * 0 * *", "day of month"), ("* * * 13 *", "the month field"), ("* * * * 8", "day of week"),
            ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"), ("a * * * *", "not a number"), ("0 0 31 2 *", "never comes due"),
            ("@often", "unknown"), ("1,,2 * * * *", "does not read"), (String(repeating: "*", count: 300), "at most 256")
        ] {
            do {
                _ = try CronSchedule(expression)
                Issue.record("\(expression) was read")
            } catch {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(words), "\(expression): \(error.message)")
            }
        }
    }
}
