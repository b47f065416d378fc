import Foundation
import Offload
import OffloadTestSupport
import PostgresNIO
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// Jobs that run after others on the durable queue: a random graph of 2,000 jobs served by
    /// two `offload worker` hosts, the refusals at submission, and what a job's view and
    /// history say of its links.
    @Suite struct DependencyQueueTests {
        func echo(after: [JobID] = [], policy: DependencyFailurePolicy = .cancel) -> Job {
            var job = Job(kind: "debug.echo", payload: .json(["n": 1]))
            job.dependsOn = after
            job.onDependencyFailure = policy
            return job
        }

        /// How each ended job of the queue ended, from its history (times in seconds since 1970).
        func ends(_ queue: PostgresQueue) async throws -> [JobID: RandomDAG.End] {
            var ends: [JobID: RandomDAG.End] = [:]
            for try await (id, state, code, message, started, ended) in try await queue.query(
                """
                SELECT job_id::text, state, error_code, error_message, extract(epoch FROM started_at)::float8, extract(epoch FROM ended_at)::float8
                FROM \(unescaped: queue.s).job_history WHERE ended
                """, logger: queue.logger
            ).decode((String, String, String?, String?, Double?, Double).self) {
                ends[JobID(id)] = RandomDAG.End(
                    state: try JobState(named: state), error: code.map { OffloadError(OffloadError.Code(rawValue: $0), message ?? "") },
                    startedAt: started, endedAt: ended)
            }
            return ends
        }

        @Test(.enabled(if: measuredAlone, "two hosts and 2,000 jobs: scripts/test runs it alone, after the suite"))
        func aRandomGraphOfTwoThousandJobsOnTwoHostsRunsInDependencyOrder() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let graph = RandomDAG(count: 2_000, seed: 2_026)
            try await withQueue(schema: schema) { queue in
                _ = try await queue.migrate()
                let arguments = ["--workers", "2", "--isolation", "thread"]
                let hosts = try (0..<2).map { _ in try WorkerHostProcess.start(url: url, schema: schema, arguments) }
                // In batches, as a producer sends them: later batches name jobs of earlier ones,
                // some still running, some ended.
                let jobs = graph.jobs
                for start in stride(from: 0, to: jobs.count, by: 250) {
                    let batch = jobs[start..<min(start + 250, jobs.count)].reversed().map { PostgresQueue.Submission($0) }
                    _ = try await queue.submit(batch)
                }
                let deadline = ContinuousClock.now + .seconds(120)
                var ended: [JobID: RandomDAG.End] = [:]
                while ended.count < jobs.count {
                    guard ContinuousClock.now < deadline else {
                        var left: [String] = []
                        for try await (id, state, waiting) in try await queue.query(
                            "SELECT id::text, state::text, waiting_for FROM \(unescaped: queue.s).jobs", logger: queue.logger
                        ).decode((String, String, Int).self) {
                            let node = graph.nodes.first { $0.job.id.rawValue.lowercased() == id }
                            let dependencies = (node?.job.dependsOn ?? []).map { "\($0.rawValue.prefix(8)):\(ended[$0]?.state.rawValue ?? "live")" }
                            left.append("\(id.prefix(8)) \(state) waiting for \(waiting) of \(dependencies)")
                        }
                        throw OffloadError(.timedOut, "\(ended.count) of \(jobs.count) jobs ended; left: \(left.prefix(10))")
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    ended = try await ends(queue)
                }
                for host in hosts { #expect(try await host.stop().status == 0) }
                let problems = graph.problems(ended)
                #expect(problems.isEmpty, "\(problems.count) problems: \(problems.prefix(10))")
                let expected = graph.expected
                #expect(expected.values.filter { $0 == .cancelled }.count > 10 && expected.values.contains(.failed))
                // No job is left behind waiting.
                var left = 0
                for try await count in try await queue.query("SELECT count(*)::int FROM \(unescaped: queue.s).jobs", logger: queue.logger)
                    .decode(Int.self)
                { left = count }
                #expect(left == 0)
            }
        }

        @Test func unknownIdsAndCyclesAreRefusedAndNothingOfTheBatchIsKept() async throws {
            try await withQueue { queue in
                let root = echo()
                let unknown = echo(after: [root.id, JobID(UUID().uuidString.lowercased())])
                var error = await #expect(throws: OffloadError.self) {
                    try await queue.submit([PostgresQueue.Submission(root), PostgresQueue.Submission(unknown)])
                }
                #expect(error?.code == .invalidDependency && error?.message.contains("holds no job") == true, "\(error?.message ?? "")")
                var first = echo()
                var second = echo()
                first.dependsOn = [second.id]
                second.dependsOn = [first.id]
                error = await #expect(throws: OffloadError.self) {
                    try await queue.submit([PostgresQueue.Submission(first), PostgresQueue.Submission(second)])
                }
                #expect(error?.code == .invalidDependency && error?.message.contains("cycle") == true)
                error = await #expect(throws: OffloadError.self) {
                    try await queue.submit([PostgresQueue.Submission(echo(after: [JobID("not-a-uuid")]))])
                }
                #expect(error?.code == .invalidDependency)
                let kept = try await queue.job(root.id)
                #expect(kept == nil)
            }
        }

        @Test func aDependentWaitsIsReleasedAndItsViewAndHistoryNameItsLinks() async throws {
            try await withQueue { queue in
                let slow = Job(kind: "debug.sleep", payload: .json(["ms": 400]))
                let broken = Job(kind: "debug.fail", payload: .json(["times": 100]))
                let after = echo(after: [slow.id])
                let anyway = echo(after: [slow.id, broken.id], policy: .run)
                let doomed = echo(after: [broken.id])
                let deeper = echo(after: [doomed.id])
                // Given in any order: the batch is ordered by its links.
                _ = try await queue.submit([deeper, doomed, anyway, after, broken, slow].map { PostgresQueue.Submission($0) })
                #expect(try await queue.job(after.id)?.state == .waiting)
                #expect(try await queue.job(after.id)?.dependsOn == [slow.id])
                let links = try #require(try await queue.links(of: slow.id))
                #expect(Set(links.dependents.map(\.id)) == [after.id, anyway.id])
                try await withServer(queue) { _ in
                    #expect(try await queue.finished(after.id, timeout: .seconds(30)).state == .completed)
                    #expect(try await queue.finished(anyway.id, timeout: .seconds(30)).state == .completed)
                    let cancelled = try await queue.finished(deeper.id, timeout: .seconds(30))
                    #expect(cancelled.state == .cancelled && cancelled.error?.code == .dependencyFailed)
                    #expect(cancelled.error?.message.contains(doomed.id.rawValue.lowercased()) == true)
                }
                let steps = try await queue.events(of: after.id).map(\.type).filter { $0 != "progress" }
                #expect(steps == ["waiting", "queued", "started", "completed"])
                let view = try #require(try await queue.links(of: anyway.id))
                #expect(view.dependencies.map(\.id) == [slow.id, broken.id])
                #expect(view.dependencies.map(\.state) == [.completed, .failed])
                #expect(view.dependencies.allSatisfy { $0.runsAfterFailure })
                // What ended before a dependent came counts as it ended.
                let late = echo(after: [slow.id])
                let lateDoomed = echo(after: [broken.id])
                _ = try await queue.submit([PostgresQueue.Submission(late), PostgresQueue.Submission(lateDoomed)])
                #expect(try await queue.job(lateDoomed.id)?.state == .cancelled)
                #expect(try await queue.job(late.id)?.state == .queued)
            }
        }

        @Test func aJobFileNamesTheLinesItDependsOnByTheirIds() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let folder = temporaryFolder("dependent-lines")
            defer { removeTree(folder) }
            writeFile(
                "\(folder)/jobs.jsonl",
                """
                {"id":"extract","kind":"debug.sleep","payload":{"ms":200}}
                {"id":"broken","kind":"debug.fail","payload":{"times":9}}
                {"id":"transform","kind":"debug.echo","dependsOn":["extract"],"payload":{"step":2}}
                {"id":"load","kind":"debug.echo","dependsOn":["transform"],"payload":{"step":3}}
                {"id":"report","kind":"debug.echo","dependsOn":["load","broken"],"onDependencyFailure":"run","payload":{}}
                {"id":"doomed","kind":"debug.echo","dependsOn":["broken"],"payload":{}}
                {"id":"orphan","kind":"debug.echo","dependsOn":["nowhere"],"payload":{}}

                """)
            let host = try WorkerHostProcess.start(url: url, schema: schema, ["--isolation", "thread", "--workers", "2"])
            let submit = try await runCommand(
                builtExecutable("offload"),
                ["submit", "\(folder)/jobs.jsonl", "--queue", url, "--schema", schema, "--wait", "--out", "\(folder)/out"],
                timeout: .seconds(60))
            #expect(try await host.stop().status == 0)
            let results = try resultLines(in: "\(folder)/out")
            let states: [String: String] = results.mapValues { $0["status"]?.stringValue ?? "?" }
            let expected: [String: String] = [
                "extract": "completed", "broken": "failed", "transform": "completed", "load": "completed", "report": "completed",
                "doomed": "cancelled", "orphan": "failed"
            ]
            #expect(states == expected, "\(submit.output)")
            #expect(results["doomed"]?["error"]?["code"] == "dependencyFailed")
            #expect(results["orphan"]?["error"]?["code"] == "invalidDependency")
        }

        @Test func cancellingAWaitingJobCancelsItsDescendantsOnly() async throws {
            try await withQueue { queue in
                let held = Job(kind: "debug.sleep", payload: .json(["ms": 10]))
                let waiting = echo(after: [held.id])
                let child = echo(after: [waiting.id])
                let sibling = echo(after: [held.id])
                _ = try await queue.submit([held, waiting, child, sibling].map { PostgresQueue.Submission($0) })
                #expect(try await queue.cancel(waiting.id) == .cancelled)
                #expect(try await queue.job(child.id)?.state == .cancelled)
                #expect(try await queue.job(child.id)?.error?.code == .dependencyFailed)
                #expect(try await queue.job(sibling.id)?.state == .waiting)
                let ended = try await withServer(queue) { _ in try await queue.finished(sibling.id, timeout: .seconds(30)) }
                #expect(ended.state == .completed)
            }
        }
    }
}
