import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// Jobs carry tags from a job line to the store, and `GET /v1/jobs?tag=` lists the same jobs
    /// in memory and on PostgreSQL, finished or waiting.
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
    }
}
