import Foundation
import Logging
import Offload
import OffloadTestSupport
import PostgresNIO
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// `GET /v1/jobs?q=`: jobs found by a text in their payload or the start of their id, case aside, the same in
    /// memory and on PostgreSQL, where the history's payloads are searched through a trigram
    /// index; a bulk action takes the same filter.
    @Suite struct SearchTests {
        func found(_ options: [String]) async throws -> [String: [String]] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "1"])
            var names: [String: String] = [:]
            for (name, payload) in [
                ("acme", #"{"customer":"ACME Corp","n":1}"#), ("globex", #"{"customer":"Globex","n":2}"#),
                ("widget", #"{"note":"an acme-widget, 50% off","n":3}"#)
            ] {
                let reply = try await serve.send("POST", "/v1/jobs?wait=20000", json: #"{"kind":"debug.echo","payload":\#(payload)}"#)
                names[try #require(reply.json?["ids"]?[0]?.stringValue, "\(reply.status): \(reply.text)")] = name
            }
            let waiting = try await serve.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","payload":{"customer":"acme"},"delayMs":60000}"#)
            let waitingID = try #require(waiting.json?["ids"]?[0]?.stringValue, "\(waiting.status): \(waiting.text)")
            names[waitingID] = "waiting"
            var listed: [String: [String]] = [:]
            let fragment = String(waitingID.prefix(13))
            for q in ["acme", "GLOBEX", "50%25", "_", "nothing-like-it", fragment] {
                let reply = try await serve.get("/v1/jobs?q=\(q)")
                #expect(reply.status == 200, "\(q): \(reply.text)")
                listed[q] = (reply.json?["jobs"]?.arrayValue ?? []).compactMap { names[$0["id"]?.stringValue ?? ""] }
            }
            // A bulk action by the same filter: the waiting job that names acme is cancelled.
            let cancelled = try await serve.send("POST", "/v1/jobs/bulk", json: #"{"action":"cancel","filter":{"q":"acme","state":"scheduled"}}"#)
            listed["bulk"] = [cancelled.json?["results"]?["cancelled"].map(JSONWriter.string) ?? cancelled.text]
            #expect(try await serve.get("/v1/jobs?q=\(String(repeating: "x", count: 201))").status == 400)
            #expect(try await serve.terminate().status == 0)
            return listed
        }

        @Test func jobsAreFoundByTextTheSameInMemoryAndOnTheQueue() async throws {
            let expected: [String: [String]] = [
                "acme": ["waiting", "widget", "acme"], "GLOBEX": ["globex"], "50%25": ["widget"], "_": [], "nothing-like-it": [],
                "bulk": ["1"]
            ]
            var inMemory = try await found([])
            var onTheQueue = try await found(["--queue", try database.url, "--schema", TestDatabase.schema()])
            // By the start of its id: the job itself.
            #expect(inMemory.values.contains(["waiting"]) && onTheQueue.values.contains(["waiting"]))
            for key in inMemory.keys where !expected.keys.contains(key) { inMemory[key] = nil }
            for key in onTheQueue.keys where !expected.keys.contains(key) { onTheQueue[key] = nil }
            #expect(inMemory == expected)
            #expect(onTheQueue == expected)
        }

        @Test func theHistoryIsSearchedThroughItsTrigramIndex() async throws {
            try await withQueue { queue in
                _ = try await queue.migrate()
                // 20,000 ended jobs, one of them with a rare word.
                try await queue.query(
                    """
                    INSERT INTO \(unescaped: queue.s).job_history (\(unescaped: HistoryRow.columns))
                    SELECT gen_random_uuid(), 1, 'completed', true, 'h', now(), now(), now(), NULL, NULL, NULL, NULL, n, 'debug.echo', 2,
                           json_build_object('customer', CASE WHEN n = 777 THEN 'Zanzibar Trading' ELSE 'customer ' || n END),
                           1, 100, 2, 1000, 0, NULL, '{}', NULL, now(), '{}'
                    FROM generate_series(1, 20000) AS n
                    """, logger: queue.logger)
                try await queue.query("ANALYZE \(unescaped: queue.s).job_history", logger: queue.logger)
                let schema = queue.s
                let plan = try await queue.transaction { connection -> [String] in
                    // The plan the index makes possible, whatever the planner would pick for a table
                    // this small: the statement the list runs reads it through the trigram index.
                    try await connection.query("SET LOCAL enable_seqscan = off", logger: Logger(label: "test"))
                    var lines: [String] = []
                    for try await line in try await connection.query(
                        """
                        EXPLAIN SELECT job_id FROM \(unescaped: schema).job_history AS h
                        WHERE h.ended AND h.payload::text ILIKE '%zanzibar%'
                        """, logger: Logger(label: "test")
                    ).decode(String.self) { lines.append(line) }
                    return lines
                }
                var indexes: [String] = []
                for try await (name, extSchema) in try await queue.query(
                    "SELECT indexname || ':' || indexdef, (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm') FROM pg_indexes WHERE schemaname = \(queue.configuration.schema) AND tablename = 'job_history'",
                    logger: queue.logger
                ).decode((String, String?).self) { indexes.append(name + " ext=" + (extSchema ?? "none")) }
                #expect(plan.joined().contains("job_history_text"), "\(plan.joined(separator: "\n")) \(indexes)")
                let found = try await queue.jobs(text: "ZANZIBAR")
                #expect(found.count == 1)
            }
        }
    }
}
