import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// `/v1/kinds`: the kinds and their limits, set, paused and resumed over HTTP, answered the
    /// same in memory (the pool's) and on the queue (the queue's, across hosts); a paused kind's
    /// job waits and runs once resumed.
    @Suite struct KindRoutesTests {
        func answers(_ options: [String]) async throws -> [JSONValue] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "2"])
            var answers: [JSONValue] = []
            func note(_ reply: HTTPReply) {
                answers.append(.object([("status", .int(Int64(reply.status))), ("body", reply.json?["error"]?["field"] ?? reply.json ?? .null)]))
            }
            let listed = try await serve.get("/v1/kinds")
            #expect(listed.status == 200)
            answers.append(listed.json?["kinds"]?.arrayValue?.first { $0["kind"] == "debug.sleep" } ?? .null)
            note(try await serve.send("PUT", "/v1/kinds/debug.sleep", json: #"{"maxConcurrent":2,"rate":{"jobs":50,"perMs":1000}}"#))
            note(try await serve.send("POST", "/v1/kinds/debug.sleep/pause"))
            // Paused: a job of the kind waits; one of another kind runs.
            let held = try await serve.send("POST", "/v1/jobs", json: #"{"kind":"debug.sleep","payload":{"ms":1}}"#)
            let heldID = try #require(held.json?["ids"]?[0]?.stringValue)
            #expect(
                try await serve.send("POST", "/v1/jobs?wait=20000", json: #"{"kind":"debug.echo","payload":{}}"#).json?["jobs"]?[0]?["state"]
                    == "completed")
            try await Task.sleep(for: .milliseconds(500))
            answers.append(try await serve.get("/v1/jobs/\(heldID)").json?["state"] ?? .null)
            note(try await serve.send("POST", "/v1/kinds/debug.sleep/resume"))
            let deadline = ContinuousClock.now + .seconds(20)
            while try await serve.get("/v1/jobs/\(heldID)").json?["state"] != "completed" {
                guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "the resumed job did not run") }
                try await Task.sleep(for: .milliseconds(50))
            }
            note(try await serve.send("PUT", "/v1/kinds/debug.sleep", json: "{}"))
            // Refused: an unknown kind, limits no queue can keep, fields it does not know.
            note(try await serve.send("PUT", "/v1/kinds/no.such.kind", json: #"{"maxConcurrent":1}"#))
            note(try await serve.send("PUT", "/v1/kinds/debug.sleep", json: #"{"maxConcurrent":0}"#))
            note(try await serve.send("PUT", "/v1/kinds/debug.sleep", json: #"{"rate":{"jobs":5,"perMs":0}}"#))
            note(try await serve.send("PUT", "/v1/kinds/debug.sleep", json: #"{"rate":{"jobs":5}}"#))
            note(try await serve.send("PUT", "/v1/kinds/debug.sleep", json: #"{"limit":3}"#))
            note(try await serve.send("POST", "/v1/kinds/no.such.kind/pause"))
            #expect(try await serve.terminate().status == 0)
            return answers
        }

        @Test func kindsAreLimitedPausedAndResumedTheSameInMemoryAndOnTheQueue() async throws {
            let inMemory = try await answers([])
            let onTheQueue = try await answers(["--queue", try database.url, "--schema", TestDatabase.schema()])
            func entry(_ maxConcurrent: JSONValue, _ rate: JSONValue, paused: Bool) -> JSONValue {
                ["kind": "debug.sleep", "maxConcurrent": maxConcurrent, "rate": rate, "paused": .bool(paused)]
            }
            let rate: JSONValue = ["jobs": 50, "perMs": 1000]
            let expected: [JSONValue] = [
                entry(.null, .null, paused: false),
                ["status": 200, "body": entry(2, rate, paused: false)],
                ["status": 200, "body": entry(2, rate, paused: true)],
                "queued",
                ["status": 200, "body": entry(2, rate, paused: false)],
                ["status": 200, "body": entry(.null, .null, paused: false)],
                ["status": 404, "body": ["error": ["code": "unknownKind", "message": "this service runs no kind 'no.such.kind'"]]],
                ["status": 400, "body": "maxConcurrent"],
                ["status": 400, "body": "rate"],
                ["status": 400, "body": "rate"],
                ["status": 400, "body": "limit"],
                ["status": 404, "body": ["error": ["code": "unknownKind", "message": "this service runs no kind 'no.such.kind'"]]]
            ]
            #expect(inMemory == expected)
            #expect(onTheQueue == expected)
        }

        @Test func theCommandLineSetsListsPausesAndResumesAQueuesLimits() async throws {
            let offload = builtExecutable("offload")
            let options = ["--queue", try database.url, "--schema", TestDatabase.schema()]
            func run(_ arguments: [String]) async throws -> String {
                let run = try await runCommand(offload, ["kinds"] + arguments + options)
                #expect(run.status == 0, "\(arguments): \(run.output)")
                return run.output
            }
            #expect(try await run([]) == "No kind has limits.\n")
            #expect(
                try await run(["limit", "debug.sleep", "--max-concurrent", "3", "--rate", "50/s"]) == "debug.sleep  at most 3 running, 50 a second\n")
            #expect(try await run(["pause", "debug.sleep"]) == "debug.sleep  paused\n")
            #expect(try await run(["limit", "debug.echo", "--rate", "10/500ms"]) == "debug.echo  10 per 500 ms\n")
            #expect(try await run(["list"]) == "debug.echo  10 per 500 ms\ndebug.sleep  at most 3 running, 50 a second, paused\n")
            #expect(try await run(["resume", "debug.sleep"]) == "debug.sleep  resumed\n")
            #expect(try await run(["limit", "debug.sleep"]) == "debug.sleep  no limits\n")
            let refused = try await runCommand(offload, ["kinds", "limit", "debug.echo", "--rate", "5/fortnight"] + options)
            #expect(refused.status == 64 && refused.output.contains("is not N/s"), "\(refused.output)")
        }
    }
}
