import Foundation
import Offload
import OffloadTestSupport
import PostgresNIO
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// Periodic jobs on the queue: three `offload worker` hosts serve a schedule of a tick every
    /// 2 s for 60 s; one is SIGKILLed at 20 s: each tick runs exactly once.
    @Suite struct ScheduleQueueTests {
        /// The ticks whose job the queue holds (ended or not), by the schedule's key.
        func ticks(_ queue: PostgresQueue, _ schedule: Schedule) async throws -> [String] {
            let rows = try await queue.query(
                """
                SELECT unique_key FROM \(unescaped: queue.s).job_history WHERE unique_key LIKE \(schedule.tag + "@%") AND ended
                UNION ALL
                SELECT unique_key FROM \(unescaped: queue.s).jobs WHERE unique_key LIKE \(schedule.tag + "@%")
                """, logger: queue.logger)
            var keys: [String] = []
            for try await key in rows.decode(String.self) { keys.append(key) }
            return keys.sorted()
        }

        @Test func eachTickRunsOnceOnThreeHostsWhenOneIsKilled() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            try await withQueue(schema: schema) { queue in
                let schedule = try Schedule(name: "every-2s", cron: "*/2 * * * * *", job: Job(kind: "debug.sleep", payload: .json(["ms": 300])))
                try await queue.addSchedule(schedule)
                let arguments = ["--workers", "2", "--isolation", "thread", "--lease-ms", "1000"]
                let hosts = try (0..<3).map { _ in try WorkerHostProcess.start(url: url, schema: schema, arguments) }
                // 60 s of ticks from the first even second after the hosts are up.
                try await Task.sleep(for: .seconds(2))
                let start = (Date().timeIntervalSince1970 / 2).rounded(.up) * 2
                let end = start + 60
                try await Task.sleep(for: .seconds(start + 20 - Date().timeIntervalSince1970))
                hosts[0].kill()
                try await Task.sleep(for: .seconds(end - Date().timeIntervalSince1970))
                try await queue.setSchedulePaused(true, name: schedule.name)
                #expect(try await hosts[1].stop().status == 0)
                #expect(try await hosts[2].stop().status == 0)
                let keys = try await ticks(queue, schedule)
                let expected = stride(from: start, to: end, by: 2).map { schedule.key(of: Date(timeIntervalSince1970: $0)) }
                let inWindow = keys.filter { $0 >= expected[0] && $0 <= expected[expected.count - 1] }
                #expect(expected.count == 30)
                #expect(
                    inWindow == expected, "missing \(Set(expected).subtracting(inWindow).sorted()), twice \(inWindow.count - Set(inWindow).count)")
                #expect(Set(keys).count == keys.count, "a tick ran twice")
                let state = try #require(try await queue.schedules().first)
                #expect(state.schedule.isPaused && state.lastRun != nil && state.lastJob != nil)
            }
        }

        @Test func schedulesAreAddedListedPausedAndRemoved() async throws {
            try await withQueue { queue in
                _ = try await queue.migrate()
                let paris = TimeZone(identifier: "Europe/Paris")!
                var job = Job(kind: "debug.echo", payload: .json(["n": 7]), priority: .high, timeout: .seconds(5), maxRetries: 2)
                job.tags = ["report"]
                let schedule = try Schedule(name: "nightly", cron: "0 3 * * *", timeZone: paris, job: job, missedTicks: .runOnce)
                try await queue.addSchedule(schedule)
                let listed = try #require(try await queue.schedules().first)
                #expect(listed.schedule.cron.expression == "0 3 * * *")
                #expect(listed.schedule.timeZone.identifier == "Europe/Paris")
                #expect(listed.schedule.missedTicks == .runOnce)
                #expect(listed.schedule.job.kind == "debug.echo" && listed.schedule.job.priority == .high)
                #expect(listed.schedule.job.timeout == .seconds(5) && listed.schedule.job.maxRetries == 2)
                #expect(try listed.schedule.job.payload.json() == ["n": 7])
                #expect(listed.schedule.job.tags == ["report", "schedule:nightly"])
                #expect(listed.nextRun == schedule.tick(after: Date()))
                #expect(try await queue.setSchedulePaused(true, name: "nightly"))
                #expect(try await queue.schedules().first?.schedule.isPaused == true)
                #expect(try await queue.insertDueTicks() == nil)
                // At most 10,000: a new one past them is refused, a known one still replaced.
                try await queue.query(
                    """
                    INSERT INTO \(unescaped: queue.s).schedules (name, cron, time_zone, missed, kind, priority, payload, max_attempts,
                        retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, capabilities, tags)
                    SELECT 'filler-' || n, '@yearly', 'UTC', 'skip', 'debug.echo', 2, '{}', 1, 100, 2, 1000, 0, '{}', '{}'
                    FROM generate_series(2, \(Schedule.maxSchedules)) AS n
                    """, logger: queue.logger)
                await #expect(throws: OffloadError.self) {
                    try await queue.addSchedule(try Schedule(name: "one-more", cron: "@yearly", job: Job(kind: "debug.echo")))
                }
                try await queue.addSchedule(schedule)
                #expect(try await queue.removeSchedule("nightly"))
                #expect(try await !queue.removeSchedule("nightly"))
                #expect(try await queue.schedules().count == Schedule.maxSchedules - 1)
            }
        }
    }
}
