import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// Jobs carry tags from a job line to the store, and `GET /v1/jobs?tag=` lists the same jobs
    /// in memory and on PostgreSQL, finished or waiting; `POST /v1/jobs/bulk` cancels and retries
    /// the jobs a filter matches, or those named, the same in both.
    @Suite struct TagsTests {
        /// The ids listed for each query, by the job's name in the script.
        func listings(_ options: [String]) async throws -> [String: [String]] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "1"])
            var names: [String: String] = [:]
            func submit(_ name: String, _ body: String, wait: Bool = true) async throws {
                let reply = try await serve.send("POST", wait ? "/v1/jobs?wait=20000" : "/v1/jobs", json: body)
                #expect(reply.status == 201, "\(name): \(reply.text)")
                names[try #require(reply.json?["ids"]?[0]?.stringValue)] = name
            }
            try await submit("a", #"{"kind":"debug.echo","payload":{},"tags":["customer:42","nightly"]}"#)
            try await submit("b", #"{"kind":"debug.echo","payload":{},"tags":["customer:7"]}"#)
            try await submit("c", #"{"kind":"debug.fail","payload":{},"tags":["nightly","customer:42","nightly"]}"#)
            // Waiting, not finished: listed by tag from the live jobs.
            try await submit("d", #"{"kind":"debug.echo","payload":{},"tags":["nightly"],"delayMs":60000}"#, wait: false)
            try await submit("e", #"{"kind":"debug.echo","payload":{}}"#)

            // A view shows its tags, each once, in the order given.
            let views = try await serve.get("/v1/jobs?limit=10").json?["jobs"]?.arrayValue ?? []
            let c = try #require(views.first { names[$0["id"]?.stringValue ?? ""] == "c" })
            #expect(c["tags"] == ["nightly", "customer:42"])
            #expect(views.first { names[$0["id"]?.stringValue ?? ""] == "e" }?["tags"] == [])

            var listed: [String: [String]] = [:]
            for tag in ["nightly", "customer:42", "customer:7", "none"] {
                let reply = try await serve.get("/v1/jobs?tag=\(tag)")
                #expect(reply.status == 200, "\(tag): \(reply.text)")
                listed[tag] = (reply.json?["jobs"]?.arrayValue ?? []).compactMap { names[$0["id"]?.stringValue ?? ""] }
            }
            // Refused with the field named: a tag that breaks the rules, too many tags.
            let bad = try await serve.get("/v1/jobs?tag=a%20b")
            #expect(bad.status == 400 && bad.json?["error"]?["field"] == "tag", "\(bad.text)")
            let many = (1...17).map { "\"t\($0)\"" }.joined(separator: ",")
            let refused = try await serve.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","tags":[\#(many)]}"#)
            #expect(refused.status == 400 && refused.text.contains("at most 16"), "\(refused.text)")
            let spaced = try await serve.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","tags":["has space"]}"#)
            #expect(spaced.status == 400 && spaced.text.contains("is not a tag"), "\(spaced.text)")
            #expect(try await serve.terminate().status == 0)
            return listed
        }

        @Test func jobsAreListedByTagTheSameInMemoryAndOnTheQueue() async throws {
            let inMemory = try await listings([])
            let onTheQueue = try await listings(["--queue", try database.url, "--schema", TestDatabase.schema()])
            let expected: [String: [String]] = ["nightly": ["d", "c", "a"], "customer:42": ["c", "a"], "customer:7": ["b"], "none": []]
            #expect(inMemory == expected)
            #expect(onTheQueue == expected)
        }

        /// Bulk cancel by tag, bulk retry of the failed, by ids, and refusals: the answers.
        func bulk(_ options: [String]) async throws -> [JSONValue] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "2"])
            var answers: [JSONValue] = []
            func act(_ body: String) async throws {
                let reply = try await serve.send("POST", "/v1/jobs/bulk", json: body)
                answers.append(.object([("status", .int(Int64(reply.status))), ("body", reply.json?["error"]?["field"] ?? reply.json ?? .null)]))
            }
            let waiting = (1...3).map { _ in #"{"kind":"debug.echo","payload":{},"tags":["batch:1"],"delayMs":60000}"# }.joined(separator: ",")
            let submitted = try await serve.send("POST", "/v1/jobs", json: "[\(waiting)]")
            #expect(submitted.status == 201)
            let newest = submitted.json?["ids"]?[2]?.stringValue ?? ""
            // After the newest: the two older ones only (the cursor a capped answer gives back).
            try await act(#"{"action":"cancel","filter":{"tag":"batch:1"},"after":"\#(newest)"}"#)
            let failing = (1...2).map { _ in #"{"kind":"debug.fail","payload":{"times":1},"maxRetries":0,"tags":["batch:2"]}"# }
            let failed = try await serve.send("POST", "/v1/jobs?wait=20000", json: "[\(failing.joined(separator: ","))]")
            let failedIDs = failed.json?["ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(failedIDs.count == 2)
            try await act(#"{"action":"cancel","filter":{"tag":"batch:1"}}"#)
            try await act(#"{"action":"cancel","filter":{"tag":"batch:1","state":"scheduled"}}"#)
            try await act(#"{"action":"retry","filter":{"state":"failed","tag":"batch:2"}}"#)
            try await act(#"{"action":"retry","ids":["\#(failedIDs[0])","00000000-0000-7000-8000-000000000000"]}"#)
            try await act(#"{"action":"delete","ids":["x"]}"#)
            try await act(#"{"action":"cancel","ids":["x"],"filter":{}}"#)
            try await act(#"{"action":"cancel","filter":{"colour":"red"}}"#)
            try await act(#"{"action":"cancel","filter":{},"after":"00000000-0000-7000-8000-000000000001"}"#)
            // The retried jobs ran again (debug.fail fails only its first attempt).
            for id in failedIDs {
                let deadline = ContinuousClock.now + .seconds(20)
                while try await serve.get("/v1/jobs/\(id)").json?["state"] != "completed" {
                    guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "job \(id) was not run again") }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(try await serve.terminate().status == 0)
            return answers
        }

        @Test func bulkActionsAnswerTheSameInMemoryAndOnTheQueue() async throws {
            let inMemory = try await bulk([])
            let onTheQueue = try await bulk(["--queue", try database.url, "--schema", TestDatabase.schema()])
            func answer(_ action: String, _ matched: Int, _ results: [(String, Int)]) -> JSONValue {
                .object([
                    ("status", 200),
                    (
                        "body",
                        .object([
                            ("action", .string(action)), ("matched", .int(Int64(matched))), ("more", false), ("next", .null),
                            ("results", .object(results.map { ($0.0, .int(Int64($0.1))) }))
                        ])
                    )
                ])
            }
            let expected: [JSONValue] = [
                answer("cancel", 2, [("cancelled", 2), ("requested", 0), ("alreadyFinished", 0), ("notFound", 0)]),
                answer("cancel", 3, [("cancelled", 1), ("requested", 0), ("alreadyFinished", 2), ("notFound", 0)]),
                // Cancelled, they no longer match.
                answer("cancel", 0, [("cancelled", 0), ("requested", 0), ("alreadyFinished", 0), ("notFound", 0)]),
                answer("retry", 2, [("retried", 2), ("notRetryable", 0), ("notFound", 0)]),
                answer("retry", 2, [("retried", 0), ("notRetryable", 1), ("notFound", 1)]),
                ["status": 400, "body": "action"],
                [
                    "status": 400,
                    "body": ["error": ["code": "invalidPayload", "message": "give either ids (an array) or filter (an object), not both"]]
                ],
                ["status": 400, "body": "filter.colour"],
                ["status": 404, "body": "after"]
            ]
            #expect(inMemory == expected)
            #expect(onTheQueue == expected)
        }
    }
}
