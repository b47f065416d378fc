import Foundation
import Offload
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    @Suite struct LeaseTests {
        func claimOne(_ queue: PostgresQueue, host: String = "host-a") async throws -> ClaimedJob {
            try #require(try await queue.claim(ClaimRequest(host: host, limit: 1, kinds: ["debug.echo"], capabilities: [])).first)
        }

        @Test func anExpiredLeaseIsRescuedAndTheOldHostIsFencedOut() async throws {
            // A lease of 3 s: still held after a claim and an upkeep on a loaded machine.
            try await withQueue(configure: { $0.leaseDuration = .seconds(3) }) { queue in
                let id = try await queue.submit(Job(kind: "debug.echo", maxRetries: 2))
                let first = try await claimOne(queue, host: "host-a")
                try await queue.maintain()
                #expect(try await queue.job(id)?.state == .running)  // the lease still holds
                try await Task.sleep(for: .milliseconds(3_200))
                try await queue.maintain()
                let rescued = try #require(try await queue.job(id))
                #expect(rescued.state == .queued)
                #expect(rescued.attempt == 1)
                #expect(rescued.error?.code == .leaseExpired)
                // host-b runs it; host-a's late end is refused and recorded as such.
                let second = try await claimOne(queue, host: "host-b")
                #expect(second.attempt == 2)
                #expect(try await queue.finish(first, outcome(first, .completed, result: ["late": true])) == .leaseLost)
                #expect(try await queue.renew([first], host: "host-a").lost == [id])
                #expect(try await queue.finish(second, outcome(second, .completed, result: ["on": "b"])) == .recorded)
                let done = try #require(try await queue.job(id))
                #expect(done.state == .completed)
                #expect(done.result == ["on": "b"])
                let events = try await queue.events(of: id).map(\.type)
                #expect(events == ["queued", "started", "rescued", "started", "leaseLost", "completed"])
            }
        }

        @Test func aRescueWithNoAttemptsLeftFailsTheJob() async throws {
            try await withQueue(configure: { $0.leaseDuration = .seconds(1) }) { queue in
                let id = try await queue.submit(echo(1))
                _ = try await claimOne(queue)
                try await Task.sleep(for: .milliseconds(1_200))
                try await queue.maintain()
                let failed = try #require(try await queue.job(id))
                #expect(failed.state == .failed)
                #expect(failed.error?.code == .leaseExpired)
                #expect(failed.error?.message.contains("host-a stopped renewing its lease") == true)
            }
        }

        @Test func heartbeatsKeepALeaseAndReportCancelRequests() async throws {
            // Renewed every 500 ms, a lease of 3 s outlives a loaded machine's late wake-ups.
            try await withQueue(configure: { $0.leaseDuration = .seconds(3) }) { queue in
                let id = try await queue.submit(echo(1))
                let claimed = try await claimOne(queue)
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(try await queue.renew([claimed], host: "host-a") == LeaseRenewal())
                    try await queue.maintain()
                }
                #expect(try await queue.job(id)?.state == .running)
                #expect(try await queue.renew([claimed], host: "host-b").lost == [id])
                #expect(try await queue.cancel(id) == .requested)
                #expect(try await queue.renew([claimed], host: "host-a").cancelRequested == [id])
                #expect(try await queue.finish(claimed, outcome(claimed, .cancelled, error: OffloadError(.cancelled, "asked"))) == .recorded)
                #expect(try await queue.job(id)?.state == .cancelled)
                #expect(try await queue.cancel(id) == .alreadyFinished)
            }
        }

        @Test func aRetryableFailureIsScheduledWithTheJobsBackoff() async throws {
            try await withQueue { queue in
                let policy = RetryPolicy(initialDelay: .milliseconds(300), multiplier: 2, maxDelay: .seconds(10), jitter: 0)
                let id = try await queue.submit(Job(kind: "debug.echo", maxRetries: 1, retryPolicy: policy))
                let first = try await claimOne(queue)
                let error = OffloadError(.handlerFailed, "flaky")
                #expect(try await queue.finish(first, outcome(first, .failed, error: error)) == .retryScheduled)
                let waiting = try #require(try await queue.job(id))
                #expect(waiting.state == .scheduled)
                #expect(waiting.error?.message == "flaky")
                // The back-off counts from the failure, in the database's time.
                let failedAt = try #require(try await queue.events(of: id).last { $0.type == "retryScheduled" }?.at)
                let wait = waiting.runAt.timeIntervalSince(failedAt)
                #expect(wait > 0.2 && wait < 0.32)
                try await Task.sleep(for: .milliseconds(350))
                let second = try await claimOne(queue)
                #expect(second.attempt == 2)
                // The last attempt: failed for good, and an error not worth retrying never is.
                #expect(try await queue.finish(second, outcome(second, .failed, error: error)) == .recorded)
                #expect(try await queue.job(id)?.state == .failed)
                #expect(try await queue.retry(id))
                let third = try await claimOne(queue)
                #expect(third.attempt == 3)
                #expect(try await queue.finish(third, outcome(third, .failed, error: OffloadError(.invalidPayload, "no"))) == .recorded)
                #expect(try await queue.job(id)?.state == .failed)
            }
        }

        @Test func oneStatementRecordsManyEndsAndRefusesOnlyTheOnesWhoseLeaseIsLost() async throws {
            try await withQueue { queue in
                let policy = RetryPolicy(initialDelay: .seconds(10), multiplier: 1, maxDelay: .seconds(10), jitter: 0)
                _ = try await queue.submit(
                    (0..<250).map { _ in PostgresQueue.Submission(Job(kind: "debug.echo", maxRetries: 1, retryPolicy: policy)) })
                let claimed = try await queue.claim(ClaimRequest(host: "host-a", limit: 250, kinds: ["debug.echo"], capabilities: []))
                #expect(claimed.count == 250)
                // Waiters on jobs past the first notification's hundred ids wake too.
                let watched = claimed[180].job.id
                async let finished = queue.finished(watched, timeout: .seconds(10))
                try await Task.sleep(for: .milliseconds(200))
                var stale = claimed[1]
                stale.attempt += 1  // a claim that no longer holds
                var ends = claimed.map { JobEnd($0, outcome($0, .completed, result: ["n": .int(Int64($0.attempt))])) }
                ends[0] = JobEnd(claimed[0], outcome(claimed[0], .failed, error: OffloadError(.handlerFailed, "flaky")))
                ends[1] = JobEnd(stale, outcome(stale, .completed))
                ends[2] = JobEnd(claimed[2], outcome(claimed[2], .failed, error: OffloadError(.invalidPayload, "bad")))
                let results = try await queue.finish(ends)
                let ended = ContinuousClock.now  // the ends' commit: the notification leaves then
                #expect(results[0] == .retryScheduled)
                #expect(results[1] == .leaseLost)
                #expect(results[2] == .recorded)
                #expect(results[3...].allSatisfy { $0 == .recorded })
                #expect(try await finished.state == .completed)
                #expect(ContinuousClock.now - ended < .seconds(2))  // woken by the notification, not the 5 s look
                let retried = try #require(try await queue.job(claimed[0].job.id))
                #expect(retried.state == .scheduled && retried.error?.message == "flaky" && retried.result == nil)
                #expect(try await queue.job(claimed[1].job.id)?.state == .running)
                #expect(try await queue.events(of: claimed[1].job.id).map(\.type) == ["queued", "started", "leaseLost"])
                let failed = try #require(try await queue.job(claimed[2].job.id))
                #expect(failed.state == .failed && failed.error?.code == .invalidPayload)
                #expect(try await queue.job(claimed[3].job.id)?.result == ["n": 1])
                #expect(try await queue.status().counts[.completed]?[.normal] == 247)
            }
        }

        @Test func releasedJobsAreAvailableAtOnceWithTheirAttemptUncounted() async throws {
            try await withQueue { queue in
                let id = try await queue.submit(echo(1))
                let claimed = try await claimOne(queue)
                try await queue.release([claimed])
                let back = try #require(try await queue.job(id))
                #expect(back.state == .queued)
                #expect(back.attempt == 0)
                #expect(try await claimOne(queue, host: "host-b").attempt == 1)
            }
        }

        @Test func cancellingAQueuedJobEndsItAndWakesItsWaiter() async throws {
            try await withQueue { queue in
                let id = try await queue.submit(echo(1, delay: .seconds(30)))
                async let finished = queue.finished(id, timeout: .seconds(10))
                try await Task.sleep(for: .milliseconds(200))
                #expect(try await queue.cancel(id) == .cancelled)
                let job = try await finished
                #expect(job.state == .cancelled)
                #expect(try await queue.cancel(JobID.generate()) == .notFound)
            }
        }

        @Test func retentionDeletesFinishedJobsButKeepsFailedOnes() async throws {
            try await withQueue(configure: { $0.retention = .milliseconds(200) }) { queue in
                let kept = try await queue.submit(echo(1))
                let gone = try await queue.submit(echo(2))
                let claimed = try await queue.claim(ClaimRequest(host: "h", limit: 2, kinds: ["debug.echo"], capabilities: []))
                for job in claimed {
                    let status: JobStatus = job.job.id == kept ? .failed : .completed
                    _ = try await queue.finish(
                        job,
                        outcome(
                            job, status, result: status == .completed ? ["ok": true] : nil,
                            error: status == .failed ? OffloadError(.invalidPayload, "bad") : nil))
                }
                try await Task.sleep(for: .milliseconds(300))
                try await queue.maintain()
                #expect(try await queue.job(gone) == nil)
                #expect(try await queue.job(kept)?.state == .failed)
            }
        }
    }
}
