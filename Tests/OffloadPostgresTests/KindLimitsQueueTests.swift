import Foundation
import Offload
import OffloadTestSupport
import PostgresNIO
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// Limits per kind across hosts, kept by the claim: a kind limited to 3 never runs 4 at once
    /// on 2 hosts of 4 workers while the other kinds go past it; a rate of 50 a second holds over
    /// 20 s; a paused kind waits.
    @Suite struct KindLimitsQueueTests {
        /// Start and end of each ended job of `kind`, in seconds since 1970, by its history.
        func runs(_ queue: PostgresQueue, kind: String) async throws -> [(start: Double, end: Double)] {
            let rows = try await queue.query(
                """
                SELECT extract(epoch FROM started_at)::float8, extract(epoch FROM ended_at)::float8
                FROM \(unescaped: queue.s).job_history WHERE kind = \(kind) AND ended ORDER BY started_at
                """, logger: queue.logger)
            var runs: [(start: Double, end: Double)] = []
            for try await (start, end) in rows.decode((Double, Double).self) { runs.append((start, end)) }
            return runs
        }

        /// Two hosts of four workers each on one queue.
        func withTwoHosts(_ schema: String, _ body: (PostgresQueue) async throws -> Void) async throws {
            try await withQueue(schema: schema) { first in
                try await withServer(first, workers: 4) { _ in
                    try await withQueue(schema: schema) { second in
                        try await withServer(second, workers: 4) { _ in try await body(first) }
                    }
                }
            }
        }

        @Test func aKindLimitedToThreeNeverRunsFourAtOnceAcrossTwoHosts() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema) { queue in
                _ = try await queue.migrate()
                try await queue.setLimits(KindLimits(maxConcurrent: 3), for: "debug.sleep")
                #expect(try await queue.kindLimits() == ["debug.sleep": KindLimits(maxConcurrent: 3)])
            }
            try await withTwoHosts(schema) { queue in
                // One batch, the sleeps first: all ready at once, the sleeps ahead in the queue.
                let ids = try await queue.submit(
                    (0..<24).map { _ in PostgresQueue.Submission(sleep(150)) } + (0..<200).map { PostgresQueue.Submission(echo($0)) })
                for id in ids { #expect(try await queue.finished(id, timeout: .seconds(60)).state == .completed) }
                let limited = try await runs(queue, kind: "debug.sleep")
                #expect(limited.count == 24)
                #expect(mostAtOnce(limited) == 3, "at most 3, and 3 reached")
                // The other kind went past the held jobs, submitted before it: an echo started
                // before the fourth sleep could, and the echoes were done before the sleeps.
                let others = try await runs(queue, kind: "debug.echo")
                let sleepStarts = limited.map(\.start).sorted()
                let firstEcho = try #require(others.map(\.start).min())
                let lastEcho = try #require(others.map(\.end).max())
                let lastSleep = try #require(limited.map(\.end).max())
                #expect(firstEcho < sleepStarts[3])
                #expect(lastEcho < lastSleep)
            }
        }

        /// Claims of a limited kind take room from counters, not a lock: six claimers at once, each
        /// ending its jobs a moment after it took them, never hold more than the limit between them.
        @Test func claimersAtOnceNeverRunMoreThanTheLimit() async throws {
            try await withQueue { queue in
                try await queue.setLimits(KindLimits(maxConcurrent: 5), for: "debug.echo")
                _ = try await queue.submit((0..<300).map { PostgresQueue.Submission(echo($0)) })
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for claimer in 0..<6 {
                        group.addTask {
                            try await claimUntilIdle(queue, host: "host-\(claimer)", limit: 3, idleClaims: 20) { claimed in
                                try await Task.sleep(for: .milliseconds(5))
                                _ = try await queue.finish(claimed.map { JobEnd($0, outcome($0, .completed)) })
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let ran = try await runs(queue, kind: "debug.echo")
                #expect(ran.count == 300)
                #expect(mostAtOnce(ran) <= 5)
                #expect(try await queue.status().counts[.completed]?[.normal] == 300)
            }
        }

        /// A limit set while jobs run counts them; one lowered below what runs starts nothing
        /// until fewer run than it allows; a retry, a hand-back and an end each give their place back.
        @Test func aLimitSetOrLoweredWhileJobsRunCountsThem() async throws {
            try await withQueue { queue in
                // Retries wait 10 s: a retried job is not claimed again in the test.
                let policy = RetryPolicy(initialDelay: .seconds(10), multiplier: 1, maxDelay: .seconds(10), jitter: 0)
                _ = try await queue.submit(
                    (0..<12).map { _ in PostgresQueue.Submission(Job(kind: "debug.echo", maxRetries: 1, retryPolicy: policy)) })
                let request = ClaimRequest(host: "host-a", limit: 10, kinds: ["debug.echo"], capabilities: [])
                let first = try await queue.claim(ClaimRequest(host: "host-a", limit: 4, kinds: ["debug.echo"], capabilities: []))
                #expect(first.count == 4)
                try await queue.setLimits(KindLimits(maxConcurrent: 2), for: "debug.echo")
                #expect(try await queue.claim(request).isEmpty, "4 run under a limit of 2")
                #expect(try await room(queue) == -2)
                // Two end: two run, as many as the limit allows, and nothing starts.
                _ = try await queue.finish(first[..<2].map { JobEnd($0, outcome($0, .completed)) })
                #expect(try await queue.claim(request).isEmpty)
                #expect(try await room(queue) == 0)
                // A third ends: one place.
                _ = try await queue.finish([JobEnd(first[2], outcome(first[2], .completed))])
                #expect(try await queue.claim(request).count == 1)
                _ = try await queue.finish([JobEnd(first[3], outcome(first[3], .completed))])
                let both = try await queue.claim(request)
                #expect(both.count == 1)
                #expect(try await queue.claim(request).isEmpty)
                // A hand-back gives its place back.
                try await queue.release([both[0]])
                let third = try await queue.claim(request)
                #expect(third.count == 1)
                // So does a retry.
                let results = try await queue.finish([
                    JobEnd(third[0], outcome(third[0], .failed, error: OffloadError(.handlerFailed, "again")))
                ])
                #expect(results == [.retryScheduled])
                #expect(try await queue.claim(request).count == 1)
                #expect(try await room(queue) == 0)
                // Raised: two more places at once.
                try await queue.setLimits(KindLimits(maxConcurrent: 4), for: "debug.echo")
                #expect(try await queue.claim(request).count == 2)
                // Removed, then set again with four running: they count.
                try await queue.setLimits(KindLimits(), for: "debug.echo")
                try await queue.setLimits(KindLimits(maxConcurrent: 4), for: "debug.echo")
                #expect(try await queue.claim(request).isEmpty)
                #expect(try await room(queue) == 0)
            }
        }

        /// Submissions, claims, ends, hand-backs and retries at once on six claimers, with the
        /// limit raised and lowered under them: when all is done the room is the limit again, to
        /// the place (none lost, none made), whichever shards it was given back to.
        @Test func roomIsKeptExactlyThroughEndsRetriesAndChangesAtOnce() async throws {
            try await withQueue { queue in
                try await queue.setLimits(KindLimits(maxConcurrent: 7), for: "debug.echo")
                let policy = RetryPolicy(initialDelay: .milliseconds(1), multiplier: 1, maxDelay: .milliseconds(1), jitter: 0)
                let job: @Sendable () -> PostgresQueue.Submission = {
                    PostgresQueue.Submission(Job(kind: "debug.echo", maxRetries: 100, retryPolicy: policy))
                }
                _ = try await queue.submit((0..<100).map { _ in job() })
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Submissions under way as claims look: a job a claim's walk finds but its
                    // update cannot yet see is not claimed, and its place must come back.
                    group.addTask {
                        for _ in 0..<30 {
                            _ = try await queue.submit((0..<10).map { _ in job() })
                            try await Task.sleep(for: .milliseconds(10))
                        }
                    }
                    for claimer in 0..<6 {
                        group.addTask {
                            var turn = 0
                            try await claimUntilIdle(queue, host: "host-\(claimer)", limit: 4, idleClaims: 25) { claimed in
                                turn += 1
                                // Every third batch: its first job handed back, its second failed
                                // once (retried), the rest completed.
                                var ends = claimed
                                if turn % 3 == 0 {
                                    try await queue.release([ends.removeFirst()])
                                    if let failing = ends.first {
                                        ends.removeFirst()
                                        _ = try await queue.finish([
                                            JobEnd(failing, outcome(failing, .failed, error: OffloadError(.handlerFailed, "again")))
                                        ])
                                    }
                                }
                                _ = try await queue.finish(ends.map { JobEnd($0, outcome($0, .completed)) })
                            }
                        }
                    }
                    group.addTask {
                        for most in [3, 9, 5, 7] {
                            try await Task.sleep(for: .milliseconds(150))
                            try await queue.setLimits(KindLimits(maxConcurrent: most), for: "debug.echo")
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await queue.status().counts[.completed]?[.normal] == 400)
                #expect(try await room(queue) == 7)
            }
        }

        /// A claim's walk, a statement of its own inside `claimable_jobs`, can find and lock jobs
        /// committed after the claim's update took its view of the table (a batch whose insert
        /// began before the claim and committed during it): those are not claimed, and the places
        /// taken for them come back. The claim is held at the rate's lock (the
        /// test holds the kind's row) while jobs are submitted, so that it happens every time.
        @Test func placesTakenForJobsTheClaimCannotSeeComeBack() async throws {
            try await withQueue { queue in
                try await queue.setLimits(KindLimits(maxConcurrent: 5, rate: .init(jobs: 1_000, per: .seconds(1))), for: "debug.echo")
                let request = ClaimRequest(host: "host-a", limit: 5, kinds: ["debug.echo"], capabilities: [])
                let claim = try await queue.transaction { connection in
                    try await connection.query(
                        "SELECT FROM \(unescaped: queue.s).kind_limits WHERE kind = 'debug.echo' FOR UPDATE", logger: queue.logger)
                    let claim = Task { try await queue.claim(request) }
                    // The claim has begun and waits for the row.
                    let deadline = ContinuousClock.now + .seconds(30)
                    while true {
                        let rows = try await queue.query(
                            "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%claimable_jobs(%'",
                            logger: queue.logger)
                        var waiting = 0
                        for try await count in rows.decode(Int.self) { waiting = count }
                        if waiting > 0 { break }
                        guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "the claim never waited for the row") }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    // Submitted after the claim began, yet due before it (as a batch whose insert
                    // began first and committed later would be): its walk takes them.
                    _ = try await queue.submit((0..<3).map { PostgresQueue.Submission(echo($0)) })
                    try await queue.query(
                        "UPDATE \(unescaped: queue.s).jobs SET run_at = run_at - interval '1 hour'", logger: queue.logger)
                    return claim
                }
                #expect(try await claim.value.isEmpty, "the claim's update cannot see jobs submitted after it began")
                #expect(try await room(queue) == 5)
                // The jobs wait for the next claim (without the rate, which lets one start at a time now).
                try await queue.setLimits(KindLimits(maxConcurrent: 5), for: "debug.echo")
                #expect(try await queue.claim(request).count == 3)
                #expect(try await room(queue) == 2)
            }
        }

        /// Room left by jobs that left without an end (a TRUNCATE fires no trigger) comes back
        /// when the limit is set again: the kind does not stay full for ever.
        @Test func roomLeftByATruncateComesBackWhenTheLimitIsSetAgain() async throws {
            try await withQueue { queue in
                try await queue.setLimits(KindLimits(maxConcurrent: 2), for: "debug.echo")
                _ = try await queue.submit((0..<2).map { PostgresQueue.Submission(echo($0)) })
                let request = ClaimRequest(host: "host-a", limit: 5, kinds: ["debug.echo"], capabilities: [])
                #expect(try await queue.claim(request).count == 2)
                try await queue.query("TRUNCATE \(unescaped: queue.s).jobs", logger: queue.logger)
                _ = try await queue.submit((0..<3).map { PostgresQueue.Submission(echo($0)) })
                #expect(try await queue.claim(request).isEmpty, "both places still held by the truncated jobs")
                try await queue.setLimits(KindLimits(maxConcurrent: 2), for: "debug.echo")
                #expect(try await queue.claim(request).count == 2)
            }
        }

        /// The room of debug.echo on the queue, over all its shards.
        /// A claim one shard has room for takes from that shard alone, walking the queue as
        /// without a limit; one no shard has room for takes from two (the shaped walk); a claim
        /// of two kinds counts only the limited one's jobs.
        @Test func aClaimWithRoomToSpareTakesFromOneShard() async throws {
            try await withQueue { queue in
                try await queue.setLimits(KindLimits(maxConcurrent: 128), for: "debug.echo")
                #expect(try await shards(queue) == [32, 32, 32, 32])
                _ = try await queue.submit(
                    (0..<60).map { PostgresQueue.Submission(echo($0)) } + (0..<5).map { _ in PostgresQueue.Submission(sleep(1)) })
                let kinds = ["debug.echo", "debug.sleep"]
                let mixed = try await queue.claim(ClaimRequest(host: "host-a", limit: 20, kinds: kinds, capabilities: []))
                #expect(mixed.count == 20)
                #expect(try await shards(queue).sorted() == [12, 32, 32, 32])
                let more = try await queue.claim(ClaimRequest(host: "host-a", limit: 40, kinds: ["debug.echo"], capabilities: []))
                #expect(more.count == 40)
                // Two shards with the most room: 32 of the first, 8 of the second.
                #expect(try await shards(queue).sorted() == [0, 12, 24, 32])
                // Only the limited kind's jobs count: the sleeps take no room.
                let sleeps = try await queue.claim(ClaimRequest(host: "host-a", limit: 10, kinds: kinds, capabilities: []))
                #expect(sleeps.map(\.job.kind) == Array(repeating: "debug.sleep", count: 5))
                #expect(try await room(queue) == 128 - 60)
                _ = try await queue.finish((mixed + more).map { JobEnd($0, outcome($0, .completed)) })
                #expect(try await room(queue) == 128)
            }
        }

        /// Claims debug.echo jobs for `host`, `limit` at a time, handing each batch to `body`, until
        /// `idleClaims` claims in a row (20 ms apart) find nothing.
        private func claimUntilIdle(
            _ queue: PostgresQueue, host: String, limit: Int, idleClaims: Int, _ body: ([ClaimedJob]) async throws -> Void
        ) async throws {
            var idle = 0
            while idle < idleClaims {
                let claimed = try await queue.claim(ClaimRequest(host: host, limit: limit, kinds: ["debug.echo"], capabilities: []))
                if claimed.isEmpty {
                    idle += 1
                    try await Task.sleep(for: .milliseconds(20))
                    continue
                }
                idle = 0
                try await body(claimed)
            }
        }

        /// The room of each of debug.echo's shards, in shard order.
        private func shards(_ queue: PostgresQueue) async throws -> [Int] {
            let rows = try await queue.query(
                "SELECT free FROM \(unescaped: queue.s).kind_room WHERE kind = 'debug.echo' ORDER BY shard", logger: queue.logger)
            var room: [Int] = []
            for try await free in rows.decode(Int.self) { room.append(free) }
            return room
        }

        private func room(_ queue: PostgresQueue) async throws -> Int {
            let rows = try await queue.query(
                "SELECT coalesce(sum(free), 0)::int FROM \(unescaped: queue.s).kind_room WHERE kind = 'debug.echo'", logger: queue.logger)
            var total = 0
            for try await value in rows.decode(Int.self) { total = value }
            return total
        }

        @Test(.enabled(if: measuredAlone, "measures a rate: scripts/test runs it alone, after the suite"))
        func aRateOfFiftyASecondHoldsOverTwentySecondsAcrossTwoHosts() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema) { queue in
                _ = try await queue.migrate()
                try await queue.setLimits(KindLimits(rate: .init(jobs: 50, per: .seconds(1))), for: "debug.echo")
            }
            try await withTwoHosts(schema) { queue in
                let ids = try await queue.submit((0..<1_060).map { PostgresQueue.Submission(echo($0)) })
                for id in ids { #expect(try await queue.finished(id, timeout: .seconds(60)).state == .completed) }
                let starts = try await runs(queue, kind: "debug.echo").map(\.start).sorted()
                // The starts of the 20 s after the first second.
                let from = starts[0] + 1
                let inWindow = starts.filter { $0 >= from && $0 < from + 20 }.count
                let rate = Double(inWindow) / 20
                #expect(abs(rate - 50) <= 50 * 0.05, "\(rate) a second")
                // And no second of it held more than a tenth over 50 (lateness caught up).
                var most = 0
                for (index, start) in starts.enumerated() { most = max(most, starts[index...].prefix { $0 < start + 1 }.count) }
                #expect(most <= 55, "\(most) starts in one second")
            }
        }

        @Test func aPausedKindWaitsOnEveryHostUntilResumed() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema) { queue in
                _ = try await queue.migrate()
                try await queue.setLimits(KindLimits(isPaused: true), for: "debug.sleep")
            }
            try await withTwoHosts(schema) { queue in
                let held = try await queue.submit([PostgresQueue.Submission(sleep(10))])[0]
                let other = try await queue.submit([PostgresQueue.Submission(echo(1))])[0]
                #expect(try await queue.finished(other, timeout: .seconds(20)).state == .completed)
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await queue.job(held)?.state == .queued)
                try await queue.setLimits(KindLimits(), for: "debug.sleep")
                #expect(try await queue.finished(held, timeout: .seconds(5)).state == .completed)
                #expect(try await queue.kindLimits().isEmpty)
            }
        }
    }
}
