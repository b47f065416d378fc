import Foundation
import Offload
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    @Suite struct ClaimTests {
        let kinds = ["debug.echo", "debug.sleep"]

        func claim(
            _ queue: PostgresQueue, _ limit: Int, host: String = "host-a", kinds: [String]? = nil,
            capabilities: Set<String> = []
        ) async throws -> [ClaimedJob] {
            try await queue.claim(ClaimRequest(host: host, limit: limit, kinds: kinds ?? self.kinds, capabilities: capabilities))
        }

        @Test func migrationsRunOnceAndRecordTheirVersion() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema, configure: { $0.migratesOnStart = false }) { queue throws in
                #expect(try await queue.migrate() == Array(1...Migrations.latest))
                #expect(try await queue.migrate() == [])
                #expect(try await queue.schemaVersion() == Migrations.latest)
            }
            // Hosts starting together: one migrates, the others find it done.
            let other = TestDatabase.schema()
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask { try await withQueue(schema: other, configure: { $0.migratesOnStart = false }) { try await $0.migrate() } }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(applied.sorted { $0.count > $1.count } == [Array(1...Migrations.latest), [], [], []])
        }

        @Test func claimsFollowPriorityThenFIFOWithinALevel() async throws {
            try await withQueue { queue in
                let priorities: [Priority] = [.low, .normal, .critical, .high, .low, .critical, .high, .normal]
                var ids: [JobID] = []
                for (index, priority) in priorities.enumerated() { ids.append(try await queue.submit(echo(index, priority: priority))) }
                let claimed = try await claim(queue, 100)
                let order = try claimed.map { try $0.job.payload.decode(Numbered.self).n }
                #expect(order == [2, 5, 3, 6, 1, 7, 0, 4])
                #expect(claimed.allSatisfy { $0.attempt == 1 && $0.owner == "host-a" })
                #expect(try await claim(queue, 100).isEmpty)
            }
        }

        @Test func agingRaisesAJobThatWaitedByOneLevelPerInterval() async throws {
            try await withQueue(configure: { $0.agingInterval = .milliseconds(50) }) { queue in
                let old = try await queue.submit(echo(0, priority: .low))
                try await Task.sleep(for: .milliseconds(250))
                let high = try await queue.submit(echo(1, priority: .high))
                // low waited 250 ms = 5 levels: its rank is 100 ms earlier than high's.
                #expect(try await claim(queue, 2).map(\.job.id) == [old, high])
            }
        }

        @Test func claimsOnlyKindsAndCapabilitiesTheHostServesAndNoMoreThanAsked() async throws {
            try await withQueue { queue in
                try await queue.submit(Job(kind: "image", payload: .json(["title": "x"])))
                try await queue.submit(Job(kind: "debug.echo", requiredCapabilities: ["gpu"]))
                for n in 0..<5 { try await queue.submit(echo(n)) }
                #expect(try await claim(queue, 3).count == 3)
                #expect(try await claim(queue, 10).count == 2)
                #expect(try await claim(queue, 10, capabilities: ["gpu", "debug.echo"]).map(\.job.requiredCapabilities) == [["gpu"]])
                #expect(try await claim(queue, 10, kinds: ["image"]).map(\.job.kind) == ["image"])
            }
        }

        @Test func delayedJobsWaitForTheirTime() async throws {
            try await withQueue { queue in
                // 5 s: still ahead after a claim and a question on a loaded machine.
                let later = try await queue.submit(echo(0, delay: .seconds(5)))
                #expect(try await claim(queue, 10).isEmpty)
                let due = try #require(try await queue.nextDue(ClaimRequest(host: "host", limit: 1, kinds: kinds, capabilities: [])))
                #expect(due > .zero && due <= .seconds(5))
                #expect(try await queue.job(later)?.state == .scheduled)
                try await Task.sleep(for: due + .milliseconds(50))
                #expect(try await claim(queue, 10).map(\.job.id) == [later])
            }
        }

        @Test func concurrentClaimersNeverShareAJob() async throws {
            try await withQueue { queue in
                let ids = try await queue.submit((0..<400).map { PostgresQueue.Submission(echo($0)) })
                let claimed = try await withThrowingTaskGroup(of: [JobID].self) { group in
                    for host in 0..<4 {
                        group.addTask {
                            var mine: [JobID] = []
                            while true {
                                let batch = try await self.claim(queue, 7, host: "host-\(host)")
                                if batch.isEmpty { return mine }
                                mine += batch.map(\.job.id)
                            }
                        }
                    }
                    return try await group.reduce(into: [[JobID]]()) { $0.append($1) }
                }
                let all = claimed.flatMap { $0 }
                #expect(all.count == 400)
                #expect(Set(all) == Set(ids))
            }
        }

        @Test func aBatchIsOneStatementAndKeepsItsOrder() async throws {
            try await withQueue { queue in
                let jobs = (0..<1_000).map { PostgresQueue.Submission(echo($0)) }
                let ids = try await queue.submit(jobs)
                #expect(ids == jobs.map(\.job.id))
                let claimed = try await claim(queue, 1_000)
                #expect(claimed.map(\.job.id) == ids)
            }
        }

        @Test func aUniqueKeyHeldByAnUnfinishedJobReturnsThatJob() async throws {
            try await withQueue { queue in
                let first = try await queue.submit(echo(1), uniqueKey: "report-42")
                let again = try await queue.submit(echo(2), uniqueKey: "report-42")
                #expect(again == first)
                // In one batch too, and beside new keys.
                let batch = try await queue.submit([
                    PostgresQueue.Submission(echo(3), uniqueKey: "report-42"),
                    PostgresQueue.Submission(echo(4), uniqueKey: "report-43"),
                    PostgresQueue.Submission(echo(5), uniqueKey: "report-43")
                ])
                #expect(batch[0] == first)
                #expect(batch[1] != first && batch[2] == batch[1])
                // Once it has finished, the key is free.
                let claimed = try #require(try await claim(queue, 10).first { $0.job.id == first })
                #expect(try await queue.finish(claimed, outcome(claimed, .completed)) == .recorded)
                #expect(try await queue.submit(echo(6), uniqueKey: "report-42") != first)
            }
        }

        @Test func badSubmissionsAreRefusedNamingTheField() async throws {
            try await withQueue(configure: { $0.maxPayloadBytes = 1_000 }) { queue in
                await #expect(throws: OffloadError.self) { try await queue.submit(Job(id: "not-a-uuid", kind: "debug.echo")) }
                do {
                    try await queue.submit(Job(kind: "debug.echo", payload: .json(["pad": .string(String(repeating: "x", count: 2_000))])))
                    Issue.record("a payload over the limit was accepted")
                } catch let error as OffloadError {
                    #expect(error.code == .resourceLimitExceeded)
                    #expect(error.message.contains("over the queue's limit of 1000"))
                }
                let id = try await queue.submit(echo(1))
                await #expect(throws: OffloadError.self) { try await queue.submit(Job(id: id, kind: "debug.echo")) }
            }
        }
    }
}

/// The payload of ``echo(_:priority:delay:)``.
struct Numbered: Decodable { var n: Int }

/// An outcome of `status` for a claimed job.
func outcome(_ claimed: ClaimedJob, _ status: JobStatus, result: JSONValue? = nil, error: OffloadError? = nil) -> JobOutcome {
    JobOutcome(
        id: claimed.job.id, kind: claimed.job.kind, status: status, attempts: claimed.attempt,
        result: result.map { .json($0) }, error: error)
}
