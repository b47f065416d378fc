import Foundation
import OffloadTestSupport
import Testing
@testable import Offload

/// Periodic jobs: which ticks run when a schedule is looked at (on time, late, missed), and a
/// pool submitting each tick's job once.
@Suite(.timeLimit(.minutes(1))) struct ScheduleTests {
    let utc = TimeZone(identifier: "UTC")!

    func date(_ text: String) -> Date { Date(timeIntervalSince1970: ISO8601.parse(text)!) }

    func schedule(_ cron: String, missed: Schedule.MissedTicks = .skip) throws -> Schedule {
        try Schedule(name: "s", cron: cron, timeZone: utc, job: Job(kind: "debug.echo"), missedTicks: missed)
    }

    @Test func aTickUpToAMinuteLateRunsAndOlderOnesAreMissed() throws {
        let everyTenSeconds = try schedule("*/10 * * * * *")
        // On time, and a little late: the due tick and those after it, each once.
        var plan = everyTenSeconds.plan(due: date("2026-01-01T00:00:00Z"), now: date("2026-01-01T00:00:00.300Z"))
        #expect(plan.ticks == [date("2026-01-01T00:00:00Z")] && plan.next == date("2026-01-01T00:00:10Z"))
        plan = everyTenSeconds.plan(due: date("2026-01-01T00:00:00Z"), now: date("2026-01-01T00:00:25Z"))
        #expect(plan.ticks == ["00", "10", "20"].map { date("2026-01-01T00:00:\($0)Z") })
        #expect(plan.next == date("2026-01-01T00:00:30Z"))
        // Down for ten minutes: the ticks of its last minute run; the others are missed.
        plan = everyTenSeconds.plan(due: date("2026-01-01T00:00:00Z"), now: date("2026-01-01T00:10:05Z"))
        #expect(plan.ticks == ["09:10", "09:20", "09:30", "09:40", "09:50", "10:00"].map { date("2026-01-01T00:\($0)Z") })
        // A daily report missed by an hour: skipped, or run once for it.
        let daily = try schedule("0 3 * * *")
        plan = daily.plan(due: date("2026-01-01T03:00:00Z"), now: date("2026-01-01T04:00:00Z"))
        #expect(plan.ticks.isEmpty && plan.next == date("2026-01-02T03:00:00Z"))
        plan = try schedule("0 3 * * *", missed: .runOnce).plan(due: date("2026-01-01T03:00:00Z"), now: date("2026-01-01T04:00:00Z"))
        #expect(plan.ticks == [date("2026-01-01T03:00:00Z")] && plan.next == date("2026-01-02T03:00:00Z"))
        // Not due yet: nothing.
        plan = daily.plan(due: date("2026-01-02T03:00:00Z"), now: date("2026-01-01T04:00:00Z"))
        #expect(plan.ticks.isEmpty && plan.next == date("2026-01-02T03:00:00Z"))
    }

    @Test func namesAndJobsAreChecked() throws {
        #expect(throws: OffloadError.self) { try Schedule(name: "has space", cron: "@daily", job: Job(kind: "debug.echo")) }
        #expect(throws: OffloadError.self) { try Schedule(name: String(repeating: "n", count: 56), cron: "@daily", job: Job(kind: "debug.echo")) }
        #expect(throws: OffloadError.self) { try Schedule(name: "ok", cron: "61 * * * *", job: Job(kind: "debug.echo")) }
        #expect(throws: OffloadError.self) { try Schedule(name: "ok", cron: "@daily", job: Job(kind: "")) }
        let schedule = try Schedule(name: "report.daily", cron: "@daily", job: Job(kind: "debug.echo"))
        #expect(schedule.key(of: date("2026-01-01T00:00:00Z")) == "schedule:report.daily@2026-01-01T00:00:00.000Z")
        #expect(schedule.job(for: date("2026-01-01T00:00:00Z"), id: "x").tags == ["schedule:report.daily"])
    }

    @Test func aPoolSubmitsEachTickOnceUntilTheScheduleIsRemoved() async throws {
        try await withTestPool(workers: 2) { pool in
            let events = pool.events()
            try pool.schedule(try Schedule(name: "second", cron: "* * * * * *", job: Job(kind: "debug.echo", payload: .json(["n": 1]))))
            #expect(throws: OffloadError.self) { try pool.schedule(try Schedule(name: "x", cron: "@hourly", job: Job(kind: "no.such.kind"))) }
            var ids: [JobID] = []
            for await event in events {
                if case .jobCompleted(let info, _) = event { ids.append(info.job) }
                if ids.count == 3 { break }
            }
            #expect(pool.unschedule("second"))
            #expect(Set(ids).count == 3)
            #expect(ids.allSatisfy { $0.rawValue.hasPrefix("schedule:second@") && $0.rawValue.hasSuffix(".000Z") })
            #expect(pool.schedules.isEmpty)
        }
    }

    @Test func aPausedScheduleRunsNoTick() async throws {
        try await withTestPool(workers: 1) { pool in
            try pool.schedule(try Schedule(name: "held", cron: "* * * * * *", job: Job(kind: "debug.echo"), isPaused: true))
            try await Task.sleep(for: .milliseconds(2_200))
            #expect(pool.metrics.submitted == 0)
            #expect(pool.pauseSchedule("held", false))
            #expect(pool.schedules.first?.schedule.isPaused == false)
            let deadline = ContinuousClock.now + .seconds(20)
            while pool.metrics.submitted == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(pool.metrics.submitted >= 1)
        }
    }

    @Test func aPoolKeepsAtMostTenThousandSchedules() async throws {
        try await withTestPool { pool in
            let job = Job(kind: "debug.echo")
            // Seconds of work: on a thread of its own, not one of the two the other tests run on
            // (holding one that long starved in-memory queue tests into their timeouts).
            let added = await onOwnThread { () -> String? in
                do {
                    for n in 0..<Schedule.maxSchedules { try pool.schedule(try Schedule(name: "s\(n)", cron: "@yearly", job: job)) }
                    return nil
                } catch { return "\(error)" }
            }
            #expect(added == nil)
            #expect(throws: OffloadError.self) { try pool.schedule(try Schedule(name: "one-more", cron: "@yearly", job: job)) }
            // Replacing one is not adding one.
            try pool.schedule(try Schedule(name: "s0", cron: "@daily", job: job))
            #expect(pool.schedules.count == Schedule.maxSchedules)
        }
    }
}
