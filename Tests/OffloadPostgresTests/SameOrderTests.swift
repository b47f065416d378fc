import Foundation
import Offload
import OffloadTestSupport
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// The queue's two rules, rank and back-off, give the same answers in memory and in
    /// PostgreSQL, where they are SQL functions written once.
    @Suite struct SameOrderTests {
        let request = ClaimRequest(host: "host", limit: 100, kinds: ["debug.echo"], capabilities: [])

        @Test func aThousandJobsOfMixedPrioritiesAndDelaysAreClaimedInTheSameOrder() async throws {
            // Every job must be due only after both submissions, so that neither queue cuts a delay
            // short; on a machine too busy for that, once more with a wider margin.
            for margin in [Duration.seconds(2), .seconds(15)] {
                if try await claimsInTheSameOrder(margin: margin) { return }
            }
            Issue.record("submitting 1,000 jobs twice took more than 15 s")
        }

        /// - Returns: whether the test could run: both submissions ended before the first job was due.
        func claimsInTheSameOrder(margin: Duration) async throws -> Bool {
            // Aging of 100 ms against delays of up to a second: priorities and waits mix.
            let aging = Duration.milliseconds(100)
            var random = SeededRandom(seed: 21)
            let memory = MemoryDurableQueue(configuration: .init(agingInterval: aging))
            return try await withQueue(configure: { $0.agingInterval = aging }) { postgres in
                let start = ContinuousClock.now + margin
                let jobs = (0..<1_000).map { n in
                    var job = Job(
                        kind: "debug.echo", payload: .json(["n": .int(Int64(n))]), priority: Priority.allCases.randomElement(using: &random)!)
                    job.runAt = start + .milliseconds(Int.random(in: 0..<100, using: &random) * 10)
                    return job
                }
                memory.submit(jobs)
                _ = try await postgres.submit(jobs.map { PostgresQueue.Submission($0) })
                guard ContinuousClock.now < start else { return false }
                // Due by PostgreSQL's clock, which counts the delays from its statement's start.
                let last = try #require(jobs.max { $0.runAt! < $1.runAt! })
                let due = try #require(try await postgres.job(last.id)).runAt
                try await Task.sleep(for: .seconds(max(due.timeIntervalSinceNow, 0) + 0.1))
                var inMemory: [JobID] = []
                var inPostgres: [JobID] = []
                for _ in 0..<10 {
                    inMemory += try await memory.claim(request).map(\.job.id)
                    inPostgres += try await postgres.claim(request).map(\.job.id)
                }
                #expect(inMemory.count == 1_000)
                #expect(inPostgres == inMemory)
                // And the order is the rule's: by rank, then submission.
                let rank = { (job: Job) in QueueOrdering.rank(readyAt: job.runAt!, priority: job.priority, level: aging) }
                let index = Dictionary(uniqueKeysWithValues: jobs.enumerated().map { ($1.id, $0) })
                let expected = jobs.sorted { (rank($0), index[$0.id]!) < (rank($1), index[$1.id]!) }.map(\.id)
                #expect(inMemory == expected)
                return true
            }
        }

        @Test func retriesAreDueAfterTheSameBackOff() async throws {
            let policy = RetryPolicy(initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .milliseconds(700), jitter: 0)
            let job = Job(kind: "debug.echo", maxRetries: 5, retryPolicy: policy)
            let memory = MemoryDurableQueue()
            memory.submit([job])
            try await withQueue { postgres in
                _ = try await postgres.submit(job)
                for attempt in 1...5 {
                    let expected = policy.delay(beforeRetry: attempt)
                    for queue in [memory as any DurableQueue, postgres] {
                        let claimed = try #require(try await queue.claim(request).first, "attempt \(attempt)")
                        #expect(claimed.attempt == attempt)
                        let failed = JobOutcome(
                            id: job.id, kind: job.kind, priority: job.priority, status: .failed, attempts: attempt,
                            error: OffloadError(.handlerFailed, "attempt \(attempt) failed"))
                        #expect(try await queue.finish(claimed, failed) == .retryScheduled)
                    }
                    let scheduled = try #require(try await postgres.events(of: job.id).last)
                    #expect(scheduled.type == "retryScheduled")
                    let waited = try #require(scheduled.runAt).timeIntervalSince(scheduled.at)
                    #expect(abs(waited - expected.seconds) < 0.001, "PostgreSQL, before retry \(attempt): \(waited)")
                    let history = try #require(memory.entry(job.id)?.history.last)
                    let due = try #require(history.step.time)
                    #expect(abs(due.secondsSince1970 - history.at.secondsSince1970 - expected.seconds) < 0.001, "in memory, before retry \(attempt)")
                    // Due already for the next claim.
                    try await Task.sleep(for: expected + .milliseconds(20))
                }
            }
        }
    }
}
