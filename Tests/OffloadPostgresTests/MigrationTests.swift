import Foundation
import Offload
import PostgresNIO
import Testing
@testable import OffloadPostgres

extension PostgresTests {
    /// Migration 9 on a queue of the schema before it (version 8), holding jobs in every state
    /// with their events, as hosts of that version wrote them.
    @Suite struct MigrationTests {
        /// The jobs, by name: their ids, and the events the version-8 schema kept of each.
        static let ids: [String: String] = [
            "queued": "01900000-0000-7000-8000-000000000001", "delayed": "01900000-0000-7000-8000-000000000002",
            "running": "01900000-0000-7000-8000-000000000003", "retrying": "01900000-0000-7000-8000-000000000004",
            "rescuedThenCompleted": "01900000-0000-7000-8000-000000000005", "failed": "01900000-0000-7000-8000-000000000006",
            "cancelledQueued": "01900000-0000-7000-8000-000000000007", "handedBackThenCompleted": "01900000-0000-7000-8000-000000000008"
        ]

        func id(_ name: String) -> JobID { JobID(Self.ids[name]!) }

        /// Jobs and events written as version 8 wrote them (the times a second apart, in order).
        static let version8Data = """
            INSERT INTO {schema}.jobs (id, kind, priority, payload, state, attempt, max_attempts, retry_initial_ms, retry_multiplier,
                                       retry_max_ms, retry_jitter, run_at, rank, unique_key, lease_owner, lease_expires_at, created_at,
                                       started_at, finished_at, result, error_code, error_message)
            VALUES
              ('\(ids["queued"]!)', 'debug.echo', 1, '{"n":1}', 'available', 0, 1, 100, 2, 1000, 0, t(0), t(0), NULL, NULL, NULL, t(0),
               NULL, NULL, NULL, NULL, NULL),
              ('\(ids["delayed"]!)', 'debug.echo', 1, '{"n":2}', 'scheduled', 0, 1, 100, 2, 1000, 0, t(1e9), t(1e9), NULL, NULL, NULL,
               t(1), NULL, NULL, NULL, NULL, NULL),
              ('\(ids["running"]!)', 'debug.echo', 2, '{"n":3}', 'running', 1, 1, 100, 2, 1000, 0, t(2), t(2), NULL, 'host-a', t(600),
               t(2), t(3), NULL, NULL, NULL, NULL),
              ('\(ids["retrying"]!)', 'debug.echo', 1, '{"n":4}', 'scheduled', 1, 3, 100, 2, 1000, 0, t(1e9), t(1e9), NULL, NULL,
               NULL, t(4), t(5), NULL, NULL, 'handlerFailed', 'flaky'),
              ('\(ids["rescuedThenCompleted"]!)', 'image', 1, '{"title":"a"}', 'completed', 2, 3, 100, 2, 1000, 0, t(8), t(8),
               'offload-card:a', NULL, NULL, t(6), t(9), t(10), '{"ok":true}', NULL, NULL),
              ('\(ids["failed"]!)', 'debug.echo', 1, '{"n":6}', 'failed', 1, 1, 100, 2, 1000, 0, t(11), t(11), NULL, NULL, NULL,
               t(11), t(12), t(13), NULL, 'invalidPayload', 'bad'),
              ('\(ids["cancelledQueued"]!)', 'debug.echo', 1, '{"n":7}', 'cancelled', 0, 1, 100, 2, 1000, 0, t(14), t(14), NULL,
               NULL, NULL, t(14), NULL, t(15), NULL, 'cancelled', 'cancelled before it started'),
              ('\(ids["handedBackThenCompleted"]!)', 'debug.echo', 1, '{"n":8}', 'completed', 1, 1, 100, 2, 1000, 0, t(16), t(16),
               NULL, NULL, NULL, t(16), t(19), t(20), '{"n":8}', NULL, NULL);
            INSERT INTO {schema}.job_events (job_id, at, type, attempt, host, message, error_code, progress, run_at)
            VALUES
              ('\(ids["queued"]!)', t(0), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["delayed"]!)', t(1), 'scheduled', NULL, NULL, NULL, NULL, NULL, t(1e9)),
              ('\(ids["running"]!)', t(2), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["running"]!)', t(3), 'started', 1, 'host-a', NULL, NULL, NULL, NULL),
              ('\(ids["running"]!)', t(3.5), 'progress', 1, 'host-a', 'half', NULL, 0.5, NULL),
              ('\(ids["retrying"]!)', t(4), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["retrying"]!)', t(5), 'started', 1, 'host-a', NULL, NULL, NULL, NULL),
              ('\(ids["retrying"]!)', t(5.5), 'retryScheduled', 1, 'host-a', 'flaky', 'handlerFailed', NULL, t(1e9)),
              ('\(ids["rescuedThenCompleted"]!)', t(6), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["rescuedThenCompleted"]!)', t(7), 'started', 1, 'host-a', NULL, NULL, NULL, NULL),
              ('\(ids["rescuedThenCompleted"]!)', t(8), 'rescued', 1, NULL, 'attempt 1 on host-a stopped renewing its lease', NULL, NULL, NULL),
              ('\(ids["rescuedThenCompleted"]!)', t(9), 'started', 2, 'host-b', NULL, NULL, NULL, NULL),
              ('\(ids["rescuedThenCompleted"]!)', t(10), 'completed', 2, 'host-b', NULL, NULL, NULL, NULL),
              ('\(ids["failed"]!)', t(11), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["failed"]!)', t(12), 'started', 1, 'host-b', NULL, NULL, NULL, NULL),
              -- Written before error codes had a column: "code: message".
              ('\(ids["failed"]!)', t(13), 'failed', 1, 'host-b', 'invalidPayload: bad', NULL, NULL, NULL),
              ('\(ids["cancelledQueued"]!)', t(14), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["cancelledQueued"]!)', t(15), 'cancelled', NULL, NULL, 'cancelled before it started', 'cancelled', NULL, NULL),
              ('\(ids["handedBackThenCompleted"]!)', t(16), 'queued', NULL, NULL, NULL, NULL, NULL, NULL),
              ('\(ids["handedBackThenCompleted"]!)', t(17), 'started', 1, 'host-a', NULL, NULL, NULL, NULL),
              ('\(ids["handedBackThenCompleted"]!)', t(18), 'released', 1, 'host-a', 'handed back before it started', NULL, NULL, NULL),
              ('\(ids["handedBackThenCompleted"]!)', t(19), 'started', 1, 'host-b', NULL, NULL, NULL, NULL),
              ('\(ids["handedBackThenCompleted"]!)', t(20), 'completed', 1, 'host-b', NULL, NULL, NULL, NULL);
            INSERT INTO {schema}.artifacts (sha256, content_type, size, data)
            VALUES (decode(repeat('ab', 32), 'hex'), 'image/png', 3, '\\x010203');
            INSERT INTO {schema}.job_artifacts (job_id, sha256, name)
            VALUES ('\(ids["rescuedThenCompleted"]!)', decode(repeat('ab', 32), 'hex'), 'card.png');
            """

        func execute(_ queue: PostgresQueue, _ template: String) async throws {
            // A time `s` seconds after a fixed start, so that every event has its own.
            let statements = """
                CREATE FUNCTION pg_temp.t(s double precision) RETURNS timestamptz LANGUAGE sql
                RETURN timestamptz '2026-01-01 00:00:00+00' + s * interval '1 second';
                """ + "\n" + template.replacingOccurrences(of: #"\bt\("#, with: "pg_temp.t(", options: .regularExpression)
            try await queue.transaction { connection in
                for statement in statements.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try await connection.query(PostgresQuery(unsafeSQL: queue.sql(statement)), logger: queue.logger)
                }
            }
        }

        @Test func jobsInEveryStateMoveIntoHistoryAndTheQueueGoesOn() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema, configure: { $0.migratesOnStart = false }) { queue in
                #expect(try await queue.migrate(upTo: 8) == Array(1...8))
                try await execute(queue, Self.version8Data)
                #expect(try await queue.migrate() == [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])

                // Each job as it was.
                let states: [String: JobState] = [
                    "queued": .queued, "delayed": .scheduled, "running": .running, "retrying": .scheduled,
                    "rescuedThenCompleted": .completed, "failed": .failed, "cancelledQueued": .cancelled,
                    "handedBackThenCompleted": .completed
                ]
                for (name, state) in states {
                    #expect(try await queue.job(id(name))?.state == state, "\(name)")
                }
                let running = try #require(try await queue.job(id("running")))
                #expect(running.leaseOwner == "host-a" && running.progress == 0.5 && running.priority == .high)
                let retrying = try #require(try await queue.job(id("retrying")))
                #expect(retrying.attempt == 1 && retrying.error?.message == "flaky")
                let completed = try #require(try await queue.job(id("rescuedThenCompleted")))
                #expect(completed.result == ["ok": true] && completed.attempt == 2 && completed.payload == ["title": "a"])
                let failed = try #require(try await queue.job(id("failed")))
                #expect(failed.error?.code == .invalidPayload)

                // Each history as it was, in the core's vocabulary.
                let histories: [String: [String]] = [
                    "queued": ["queued"], "delayed": ["scheduled"], "running": ["queued", "started", "progress"],
                    "retrying": ["queued", "started", "retryScheduled"],
                    "rescuedThenCompleted": ["queued", "started", "rescued", "started", "completed"],
                    "failed": ["queued", "started", "failed"], "cancelledQueued": ["queued", "cancelled"],
                    "handedBackThenCompleted": ["queued", "started", "released", "started", "completed"]
                ]
                for (name, types) in histories {
                    let events = try await queue.events(of: id(name))
                    #expect(events.map(\.type) == types, "\(name)")
                    for (index, stored) in events.enumerated() { _ = try stored.event(of: id(name), sequence: index + 1) }
                }
                let rescued = try await queue.events(of: id("rescuedThenCompleted"))
                #expect(rescued.map(\.host) == [nil, "host-a", "host-a", "host-b", "host-b"])
                let failedEnd = try #require(try await queue.events(of: id("failed")).last?.event(of: id("failed")))
                #expect(failedEnd.step == .failed(OffloadError(.invalidPayload, "bad")))

                // Lists, cards kept by key, artifacts and counts read across both tables.
                let listed = try await queue.jobs(limit: 20).map(\.id)
                let order = [
                    "handedBackThenCompleted", "cancelledQueued", "failed", "rescuedThenCompleted", "retrying", "running", "delayed", "queued"
                ]
                #expect(listed == order.map(id))
                #expect(try await queue.jobs(state: .completed).map(\.id) == [id("handedBackThenCompleted"), id("rescuedThenCompleted")])
                #expect(try await queue.jobs(limit: 3, before: id("cancelledQueued")).map(\.id) == order[2..<5].map(id))
                #expect(try await queue.completedJob(uniqueKey: "offload-card:a")?.id == id("rescuedThenCompleted"))
                #expect(try await queue.artifacts(of: id("rescuedThenCompleted")).map(\.name) == ["card.png"])
                let counts = try await queue.status().counts
                #expect(counts[.completed]?[.normal] == 2 && counts[.running]?[.high] == 1 && counts[.scheduled]?[.normal] == 2)

                // The queue goes on: the queued job runs, the failed one runs again, a finished one
                // cannot be cancelled or submitted again under its id.
                let claimed = try await queue.claim(ClaimRequest(host: "host-c", limit: 5, kinds: ["debug.echo"], capabilities: []))
                #expect(claimed.map(\.job.id) == [id("queued")])
                #expect(try await queue.retry(id("failed")))
                #expect(try await queue.job(id("failed"))?.state == .queued)
                #expect(try await queue.events(of: id("failed")).map(\.type) == ["queued", "started", "failed", "retried"])
                #expect(try await queue.cancel(id("cancelledQueued")) == .alreadyFinished)
                await #expect(throws: OffloadError.self) {
                    try await queue.submit(Job(id: id("handedBackThenCompleted"), kind: "debug.echo"))
                }
            }
        }
    }
}
