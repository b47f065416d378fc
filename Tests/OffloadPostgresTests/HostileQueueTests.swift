#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Offload
import OffloadTestSupport
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// The durable queue and the services on it as an attacker meets them: a value PostgreSQL
    /// could not hold never blocks a host or loses a result, a bad line fails alone, and no
    /// answer, file or path is left where it should not be.
    @Suite struct HostileQueueTests {
        let offload = builtExecutable("offload")

        @Test func aNulInAResultAmongManyJobsOnTwoHostsIsStoredExactlyAndBlocksNothing() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let folder = temporaryFolder("nul-jobs")
            defer { removeTree(folder) }
            // debug.echo returns its payload: job 137's result holds U+0000, which jsonb refused.
            var lines: [String] = []
            for index in 0..<300 {
                lines.append(
                    index == 137
                        ? #"{"id":"nul","kind":"debug.echo","payload":{"name":"a\u0000b","n":137}}"#
                        : #"{"id":"j\#(index)","kind":"debug.echo","payload":{"n":\#(index)}}"#)
            }
            writeFile("\(folder)/jobs.jsonl", lines.joined(separator: "\n") + "\n")
            let hosts = try (0..<2).map { _ in
                try WorkerHostProcess.start(url: url, schema: schema, ["--isolation", "thread", "--workers", "2", "--drain-ms", "2000"])
            }
            let submit = try await runCommand(
                offload,
                [
                    "submit", "\(folder)/jobs.jsonl", "--queue", url, "--schema", schema, "--wait",
                    "--out", "\(folder)/out"
                ], timeout: .seconds(120))
            #expect(submit.status == 0, "\(submit.output)")
            let results = try resultLines(in: "\(folder)/out")
            #expect(results.count == 300)
            #expect(results.values.allSatisfy { $0["status"] == .string("completed") })
            #expect(results["nul"]?["result"]?["name"] == .string("a\u{0}b"))
            #expect(results["j299"]?["result"]?["n"] == .int(299))
            for host in hosts {
                let (status, output, took) = try await host.stop()
                #expect(status == 0)
                #expect(took < .seconds(10))
                #expect(output.split(separator: "\n").count < 20, "\(output.prefix(2_000))")
            }
        }

        @Test func aLineTheQueueCannotHoldFailsAloneAndTheOthersAreQueued() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let folder = temporaryFolder("bad-line")
            defer { removeTree(folder) }
            let host = try WorkerHostProcess.start(url: url, schema: schema, ["--isolation", "thread", "--workers", "1"])
            writeFile(
                "\(folder)/jobs.jsonl",
                """
                {"id":"first","kind":"debug.echo","payload":{"n":1}}
                {"id":"nul-capability","kind":"debug.echo","capabilities":["gpu\\u0000"],"payload":{}}
                {"id":"nul-payload","kind":"debug.echo","payload":{"text":"x\\u0000y"}}
                {"id":"nobody-runs-it","kind":"debug.echo","capabilities":["gpu"],"payload":{}}
                {"id":"last","kind":"debug.echo","payload":{"n":5}}

                """)
            // Once the host has said what it serves, a job no host runs is refused too (before
            // that, jobs wait for the first host: a busy machine may take seconds to start it).
            try await withQueue(schema: schema) { queue in
                let deadline = ContinuousClock.now + .seconds(30)
                while try await queue.servingHosts().isEmpty, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let submit = try await runCommand(
                offload,
                [
                    "submit", "\(folder)/jobs.jsonl", "--queue", url, "--schema", schema, "--wait",
                    "--out", "\(folder)/out"
                ], timeout: .seconds(60))
            #expect(submit.status == 0, "\(submit.output)")
            let results = try resultLines(in: "\(folder)/out")
            #expect(results["first"]?["status"] == .string("completed"))
            #expect(results["last"]?["status"] == .string("completed"))
            #expect(results["nul-payload"]?["result"]?["text"] == .string("x\u{0}y"))
            #expect(results["nul-capability"]?["error"]?["code"] == .string("invalidPayload"))
            #expect(results["nul-capability"]?["error"]?["message"]?.stringValue?.contains("line 2: capabilities") == true)
            #expect(results["nobody-runs-it"]?["error"]?["code"] == .string("noCapableWorker"))
            #expect(try await host.stop().status == 0)
        }

        @Test func aHostServesTheDiagnosticKindsOnlyWhenAskedTo() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let folder = temporaryFolder("no-diagnostics")
            defer { removeTree(folder) }
            let host = try WorkerHostProcess.start(url: url, schema: schema, ["--isolation", "thread", "--workers", "1"], diagnostics: false)
            writeFile("\(folder)/jobs.jsonl", #"{"id":"hang","kind":"debug.hang"}"# + "\n")
            var refused = false
            for _ in 0..<50 where !refused {
                try await Task.sleep(for: .milliseconds(200))
                let submit = try await runCommand(offload, ["submit", "\(folder)/jobs.jsonl", "--queue", url, "--schema", schema])
                refused = submit.output.contains("noCapableWorker")
            }
            #expect(refused)
            #expect(try await host.stop().status == 0)
        }

        @Test func aServiceOnTheQueueRefusesWhatTheQueueCannotHoldWith400AndLeavesNoFileOrPath() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let server = try await ServeProcess.start(["--queue", url, "--schema", schema, "--workers", "1"])
            let refused = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","capabilities":["a\u0000"]}"#)
            #expect(refused.status == 400, "\(refused.text)")
            #expect(refused.json?["error"]?["field"] == .string("capabilities"))
            // Once this host has said what it serves, a job no host runs is refused.
            var nobody: HTTPReply?
            for _ in 0..<50 where nobody?.status != 503 {
                try await Task.sleep(for: .milliseconds(200))
                nobody = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","capabilities":["gpu"]}"#)
            }
            #expect(nobody?.json?["error"]?["code"] == .string("noCapableWorker"), "\(nobody?.text ?? "")")
            let echoed = try await server.send("POST", "/v1/jobs?wait=20000", json: #"{"kind":"debug.echo","payload":{"name":"a\u0000b"}}"#)
            #expect(echoed.json?["jobs"]?[0]?["result"]?["name"] == .string("a\u{0}b"), "\(echoed.text)")

            // A long job holds the one worker; a card is drawn all the same, by the card pool.
            let long = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.sleep","timeoutMs":100000,"payload":{"ms":60000}}"#)
            #expect(long.status == 201)
            try await Task.sleep(for: .milliseconds(500))
            let start = ContinuousClock.now
            let card = try await server.get("/og.png?title=Behind+nothing", headers: [:])
            #expect(card.status == 200, "\(card.text.prefix(300))")
            #expect(ContinuousClock.now - start < .seconds(15))
            // The card's file is in the queue, not on this host, and no result names a path of it.
            let scratch = NSTemporaryDirectory() + "offload-\(getuid())/serve-\(server.pid)"
            let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
            #expect(left.filter { $0 != "artifacts" }.isEmpty, "\(left)")
            let images = try await server.get("/v1/jobs?kind=image").json?["jobs"]?.arrayValue ?? []
            #expect(images.count == 1)
            #expect(images.first?["result"]?["artifact"] != nil)
            #expect(images.first?["result"]?["file"] == nil)
            _ = try await server.terminate(timeout: .seconds(20))
        }

        @Test func readinessAnswersAtOnceWhileTheDatabaseIsAway() async throws {
            try await TestDatabase.withOwn { own in
                let server = try await ServeProcess.start(["--queue", own.url, "--isolation", "thread", "--workers", "1"])
                var ready = false
                for _ in 0..<100 where !ready {
                    ready = try await server.get("/readyz", headers: [:]).status == 200
                    if !ready { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(ready)
                await own.stop()
                let start = ContinuousClock.now
                let reply = try await server.get("/readyz", headers: [:])
                #expect(reply.status == 503)
                #expect(ContinuousClock.now - start < .seconds(4))
                #expect(try await server.get("/healthz", headers: [:]).status == 200)
                // The stop is bounded too, the database away (drain 10 s by default).
                let stopping = ContinuousClock.now
                _ = try await server.terminate(timeout: .seconds(30))
                #expect(ContinuousClock.now - stopping < .seconds(15))
            }
        }

        @Test func schemasPostgreSQLOwnsAreRefusedAndMigrateNamesItsSchema() async throws {
            let url = try database.url
            for schema in ["public", "information_schema", "pg_catalog"] {
                let run = try await runCommand(offload, ["migrate", "--queue", url, "--schema", schema])
                #expect(run.status != 0)
                #expect(run.output.contains("schema '\(schema)'"), "\(run.output)")
            }
            let named = TestDatabase.schema()
            let separator = url.contains("?") ? "&" : "?"
            let run = try await runCommand(offload, ["migrate", "--queue", "\(url)\(separator)schema=\(named)"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("schema \(named)"), "\(run.output)")
        }
    }
}
