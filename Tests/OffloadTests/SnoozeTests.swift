import OffloadTestSupport
import Testing
@testable import Offload

/// A handler that throws `OffloadError.snooze(for:)`: its job waits and runs again without using
/// a retry, in threads, in worker processes and on a durable queue, and its history says so.
@Suite struct SnoozeTests {
    private func snoozing(times: Int, ms: Int) -> Job {
        // No retries at all: a snooze must not need one.
        Job(kind: "debug.snooze", payload: .json(["times": .int(Int64(times)), "ms": .int(Int64(ms))]), maxRetries: 0)
    }

    private func checkSnoozedTwice(_ pool: WorkerPool) async throws {
        let events = pool.events()
        let start = ContinuousClock.now
        let outcome = try await pool.process(snoozing(times: 2, ms: 150))
        #expect(outcome.status == .completed, "\(String(describing: outcome.error))")
        #expect(outcome.attempts == 3)
        #expect(try outcome.result?.json()["attempt"] == 3)
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        #expect(pool.metrics.retried == 0)
        var steps: [JobEvent] = []
        for await event in events {
            if let step = event.jobEvent(since: pool.madeAt) { steps.append(step) }
            if event.isFinal { break }
        }
        #expect(steps.map(\.name) == ["queued", "started", "snoozed", "started", "snoozed", "started", "completed"])
        let snoozed = steps[2]
        #expect(snoozed.state == .scheduled)
        #expect(snoozed.step.message == "debug.snooze: snoozing attempt 1 of 2")
        let due = try #require(snoozed.step.time)
        #expect(abs(due.secondsSince1970 - snoozed.at.secondsSince1970 - 0.15) < 0.01)
        #expect(steps[3].at.secondsSince1970 >= due.secondsSince1970 - 0.001)
        // The JSON form reads back as the same step (its time to the millisecond).
        let read = try JobEvent(json: snoozed.json)
        #expect(read.name == "snoozed" && read.step.message == snoozed.step.message)
        #expect(abs((read.step.time?.secondsSince1970 ?? 0) - due.secondsSince1970) < 0.001)
    }

    @Test func aSnoozedJobRunsAgainLaterWithoutUsingARetryInThreads() async throws {
        try await withTestPool { pool in try await checkSnoozedTwice(pool) }
    }

    @Test func aSnoozeCrossesFromAWorkerProcess() async throws {
        try await withProcessPool { pool in try await checkSnoozedTwice(pool) }
    }

    @Test func aJobThatSnoozesForeverEndsFailedAtTheMostAttempts() async throws {
        try await withTestPool { pool in
            let outcome = try await pool.process(snoozing(times: 5_000, ms: 0))
            #expect(outcome.status == .failed)
            #expect(outcome.error?.code == .resourceLimitExceeded)
            #expect(outcome.attempts == OffloadError.maxAttempts)
        }
    }

    @Test func aSnoozeIsBoundedAndItsDelayIsNeverNegative() {
        #expect(OffloadError.snooze(for: .seconds(-5)).snoozeFor == .zero)
        #expect(OffloadError.snooze(for: .seconds(30 * 24 * 3_600)).snoozeFor == OffloadError.maxSnooze)
        #expect(OffloadError.snooze(for: .seconds(1), "later").code == .snoozed)
        #expect(!OffloadError.snooze(for: .seconds(1)).isRetryable)
    }

    @Test func onADurableQueueTheQueueHoldsTheSnoozeAndAddsTheAttempt() async throws {
        let queue = MemoryDurableQueue()
        let job = snoozing(times: 2, ms: 200)
        queue.submit([job])
        try await QueueServerTests().withServer(queue) {
            try await QueueServerTests().eventually("the job ends") { queue.entry(job.id)?.state == .completed }
        }
        let entry = try #require(queue.entry(job.id))
        #expect(entry.attempt == 3)
        #expect(entry.maxAttempts == 3)
        let history = entry.history
        #expect(history.map(\.name) == ["queued", "started", "snoozed", "started", "snoozed", "started", "completed"])
        let due = try #require(history[2].step.time)
        #expect(abs(due.secondsSince1970 - history[2].at.secondsSince1970 - 0.2) < 0.001)
        #expect(history[3].at.secondsSince1970 >= due.secondsSince1970)
    }
}
