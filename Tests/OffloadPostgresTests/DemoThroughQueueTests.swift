import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// The README's demo, as a user runs it on a queue: two `offload worker` hosts in the
    /// examples folder, `offload submit examples/demo.jsonl --wait`, and the cards fetched back
    /// with `offload artifacts get`.
    @Suite struct DemoThroughQueueTests {
        static let examples: String = {
            var path = #filePath
            for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
            return path + "/examples"
        }()

        /// How the demo's jobs end in `offload run` (process isolation), which a queue must not change.
        static let expected: [String: (status: String, code: String?)] = [
            "hello": ("completed", nil), "card-launch": ("completed", nil), "card-jpeg": ("completed", nil),
            "card-animated": ("completed", nil), "card-webp": ("completed", nil), "sales-by-country": ("completed", nil),
            "traffic-by-hour": ("completed", nil), "flaky": ("completed", nil), "later": ("completed", nil),
            "too-slow": ("failed", "timedOut"), "typo": ("failed", "invalidPayload"), "urgent": ("failed", "invalidPayload"),
            "crash": ("failed", "workerCrashed"), "stuck": ("failed", "timedOut"), "greedy": ("failed", "memoryLimitExceeded"),
            "plugin-title-case": ("completed", nil), "plugin-runaway": ("failed", "timedOut")
        ]

        @Test func theDemoRunsOnTwoWorkerHostsAndItsCardsAreFetchedFromTheQueue() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let out = temporaryFolder("demo")
            defer { removeTree(out) }
            let hosts = try (0..<2).map { _ in
                try WorkerHostProcess.start(url: url, schema: schema, ["--workers", "2"], directory: Self.examples)
            }
            let offload = builtExecutable("offload")
            let submit = try await runCommand(
                offload,
                [
                    "submit", "\(Self.examples)/demo.jsonl", "--queue", url, "--schema", schema,
                    "--wait", "--out", out
                ], timeout: .seconds(240))
            #expect(submit.status == 0, "\(submit.output)")
            let lines = String(decoding: readFile("\(Self.examples)/demo.jsonl"), as: UTF8.self).split(separator: "\n")
            var results: [String: JSONValue] = [:]
            for line in String(decoding: readFile("\(out)/results.jsonl"), as: UTF8.self).split(separator: "\n") {
                let result = try JSONParser.parse(String(line))
                results[result["id"]?.stringValue ?? ""] = result
            }
            #expect(results.count == lines.count)
            for (id, end) in Self.expected {
                #expect(results[id]?["status"]?.stringValue == end.status, "\(id): \(String(describing: results[id]))")
                #expect(results[id]?["error"]?["code"]?.stringValue == end.code, "\(id): \(String(describing: results[id]))")
            }
            #expect(results.values.filter { $0["id"]?.stringValue?.hasPrefix("batch") == true }.allSatisfy { $0["status"] == "completed" })

            // Every card comes back from the database, whichever host rendered it.
            let cards = ["card-launch": "image/png", "card-jpeg": "image/jpeg", "card-animated": "image/gif", "card-webp": "image/webp"]
            for (id, contentType) in cards {
                let artifact = try #require(results[id]?["result"]?["artifact"], "\(id) has no artifact")
                #expect(artifact["contentType"]?.stringValue == contentType)
                let sha256 = try #require(artifact["sha256"]?.stringValue)
                let fetched = try await runCommand(offload, ["artifacts", "get", sha256, "-o", "\(out)/\(id)", "--queue", url, "--schema", schema])
                #expect(fetched.status == 0, "\(fetched.output)")
                let bytes = readFile("\(out)/\(id)")
                #expect(Double(bytes.count) == artifact["bytes"]?.doubleValue, "\(id)")
                #expect(bytes.count > 1_000, "\(id)")
            }
            for host in hosts { #expect(try await host.stop().status == 0) }
        }
    }
}
