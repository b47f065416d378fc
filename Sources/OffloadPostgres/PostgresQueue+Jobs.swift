import Foundation
public import Offload
import PostgresNIO

// Looking at jobs, waiting for them, cancelling and re-running them: from any process.
extension PostgresQueue {
    /// The job, or `nil` when the queue holds no such job.
    public func job(_ id: JobID) async throws -> StoredJob? {
        guard UUID(uuidString: id.rawValue) != nil else { return nil }
        try await prepared()
        return try await storedJobs(ids: [id.rawValue]).first
    }

    /// The jobs `ids` (UUIDs), from either table: a job is live or has ended, never both.
    private func storedJobs(ids: [String]) async throws -> [StoredJob] {
        try await storedJobs(
            try await query(
                """
                SELECT \(unescaped: liveColumns) FROM \(unescaped: s).jobs AS job WHERE job.id = ANY(\(ids)::uuid[])
                UNION ALL
                SELECT \(unescaped: endedColumns) FROM \(unescaped: s).job_history AS h WHERE h.job_id = ANY(\(ids)::uuid[]) AND h.ended
                """, logger: logger))
    }

    /// Jobs newest first (by submission), in `state`, of `kind`, carrying `tag`, and whose
    /// payload (as JSON) holds `text`, case aside, or whose id starts with it, when given; older
    /// than the job `before` (the last of the previous page). The history's payloads are
    /// searched through a trigram index where `pg_trgm` could be installed (migration 15).
    /// - Throws: ``OffloadError/Code/invalidPayload`` when `before` is not a job of the queue.
    public func jobs(
        state: JobState? = nil, kind: String? = nil, tag: String? = nil, text: String? = nil, limit: Int = 50, before: JobID? = nil
    ) async throws -> [StoredJob] {
        let tagged = tag.map { [$0] }
        // LIKE's own characters taken literally.
        let literal = text.map {
            $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
        }
        let contains = literal.map { "%\($0)%" }
        // An id prefix, as the range of ids it starts (read along the primary keys).
        let ids = text.flatMap(Self.idRange)
        let (lowest, highest) = (ids?.lowest, ids?.highest)
        let state = state.map(StateColumn.name)
        let limit = max(1, min(limit, 1_000))
        try await prepared()
        var cursor = Int64.max
        if let before {
            guard UUID(uuidString: before.rawValue) != nil else {
                throw OffloadError(.invalidPayload, "after: '\(before)' is not a job id of the queue")
            }
            var found: Int64?
            for try await seq in try await query(
                """
                SELECT seq FROM \(unescaped: s).jobs WHERE id = \(before.rawValue)::uuid
                UNION ALL SELECT job_seq FROM \(unescaped: s).job_history WHERE job_id = \(before.rawValue)::uuid LIMIT 1
                """, logger: logger
            ).decode(Int64.self) { found = seq }
            guard let found else { throw OffloadError(.invalidPayload, "after: the queue holds no job '\(before)'") }
            cursor = found
        }
        return try await storedJobs(
            try await query(
                """
                SELECT \(unescaped: Self.columnNames) FROM (
                    (SELECT \(unescaped: liveColumns), job.seq AS listed FROM \(unescaped: s).jobs AS job
                     WHERE job.seq < \(cursor) AND (\(state)::text IS NULL OR job.state::text = \(state))
                       AND (\(kind)::text IS NULL OR job.kind = \(kind)) AND (\(tagged)::text[] IS NULL OR job.tags @> \(tagged)::text[])
                       AND (\(contains)::text IS NULL OR job.payload::text ILIKE \(contains)
                            OR job.id BETWEEN \(lowest)::uuid AND \(highest)::uuid)
                     ORDER BY job.seq DESC LIMIT \(limit))
                    UNION ALL
                    (SELECT \(unescaped: endedColumns), h.job_seq FROM \(unescaped: s).job_history AS h
                     WHERE h.ended AND h.job_seq < \(cursor) AND (\(state)::text IS NULL OR h.state = \(state))
                       AND (\(kind)::text IS NULL OR h.kind = \(kind))
                       AND (\(tagged)::text[] IS NULL OR (h.tags @> \(tagged)::text[] AND cardinality(h.tags) > 0))
                       AND (\(contains)::text IS NULL OR h.payload::text ILIKE \(contains)
                            OR h.job_id BETWEEN \(lowest)::uuid AND \(highest)::uuid)
                     ORDER BY h.job_seq DESC LIMIT \(limit))
                ) AS page
                ORDER BY listed DESC LIMIT \(limit)
                """, logger: logger))
    }

    /// The ids a prefix of hex digits (dashes aside) starts: the lowest and the highest; `nil`
    /// for text that is no id prefix.
    static func idRange(_ text: String) -> (lowest: String, highest: String)? {
        let digits = text.lowercased().filter { $0 != "-" }
        guard !digits.isEmpty, digits.count <= 32, digits.allSatisfy(\.isHexDigit) else { return nil }
        func uuid(_ padding: Character) -> String {
            let hex = Array(digits + String(repeating: padding, count: 32 - digits.count))
            return [hex[0..<8], hex[8..<12], hex[12..<16], hex[16..<20], hex[20..<32]].map { String($0) }.joined(separator: "-")
        }
        return (uuid("0"), uuid("f"))
    }

    /// The jobs that have changed since change `seq` (0: from the start), each as it is now, at
    /// most `limit` of them, and the last change seen: a feed of changes to poll. (The live
    /// table is read whole: it holds only the jobs not yet finished.)
    public func changes(after seq: Int64, limit: Int = 500) async throws -> (jobs: [StoredJob], last: Int64) {
        try await prepared()
        var last = seq
        var ids: [String] = []
        for try await (id, changed) in try await query(
            """
            SELECT id::text, max(n) FROM (
                SELECT id, changed AS n FROM \(unescaped: s).jobs WHERE changed > \(seq)
                UNION ALL SELECT job_id, seq FROM \(unescaped: s).job_history WHERE seq > \(seq)
                UNION ALL SELECT job_id, seq FROM \(unescaped: s).job_steps WHERE seq > \(seq)
            ) AS recent GROUP BY id ORDER BY max(n) LIMIT \(max(1, limit))
            """, logger: logger
        ).decode((String, Int64).self) {
            ids.append(id)
            last = max(last, changed)
        }
        guard !ids.isEmpty else { return ([], last) }
        return (try await storedJobs(ids: ids), last)
    }

    /// The newest change's number (where a feed of ``changes(after:limit:)`` starts from now).
    public func lastEventSeq() async throws -> Int64 {
        try await prepared()
        var last: Int64 = 0
        for try await seq in try await query(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM \(unescaped: s).changes", logger: logger
        ).decode(Int64.self) {
            last = seq
        }
        return last
    }

    /// The newest completed job submitted with `uniqueKey` (a result kept for reuse), if any.
    public func completedJob(uniqueKey: String) async throws -> StoredJob? {
        try await prepared()
        return try await storedJobs(
            try await query(
                """
                SELECT \(unescaped: endedColumns) FROM \(unescaped: s).job_history AS h
                WHERE h.unique_key = \(uniqueKey) AND h.state = 'completed' ORDER BY h.ended_at DESC LIMIT 1
                """, logger: logger)
        ).first
    }

    /// The names of the columns ``liveColumns`` and ``endedColumns`` give, in order.
    static let columnNames = """
        id, kind, priority, state, attempt, max_attempts, payload, result, error_code, error_message, unique_key, lease_owner, \
        cancel_requested, created_at, run_at, started_at, finished_at, progress, tags, depends_on, runs_after_failure
        """

    /// The dependencies of the job whose id is `column`, in the order given, and its policy.
    private func dependencyColumns(_ column: String) -> String {
        """
        ARRAY(SELECT d.depends_on::text FROM \(s).job_dependencies AS d WHERE d.job_id = \(column) ORDER BY d.position) AS depends_on,
        coalesce((SELECT d.runs_after_failure FROM \(s).job_dependencies AS d WHERE d.job_id = \(column) LIMIT 1), false)
            AS runs_after_failure
        """
    }

    /// A live job (`job`, a row of `jobs`) as ``storedJobs(_:)`` reads it; a running one with
    /// the progress its attempt last reported.
    var liveColumns: String {
        """
        job.id::text AS id, job.kind, job.priority::int AS priority, job.state::text AS state, job.attempt, job.max_attempts,
        job.payload::text AS payload, NULL::text AS result, job.error_code, job.error_message, job.unique_key, job.lease_owner,
        job.cancel_requested, job.created_at, job.run_at, job.started_at, NULL::timestamptz AS finished_at,
        CASE WHEN job.state = 'running' THEN (SELECT step.progress FROM \(s).job_steps AS step
                                              WHERE step.job_id = job.id AND step.type = 'progress' AND step.attempt = job.attempt
                                              ORDER BY step.seq DESC LIMIT 1) END AS progress, job.tags,
        \(dependencyColumns("job.id"))
        """
    }

    /// A finished job (`h`, its ended row of `job_history`) as ``storedJobs(_:)`` reads it.
    var endedColumns: String {
        """
        h.job_id::text, h.kind, h.priority::int, h.state, h.attempt, h.max_attempts, h.payload::text, h.result::text, h.error_code,
        h.error_message, h.unique_key, NULL::text, false, h.created_at, h.ready_at, h.started_at, h.ended_at, NULL::float8, h.tags,
        \(dependencyColumns("h.job_id"))
        """
    }

    /// Rows of ``liveColumns`` or ``endedColumns``, every one read (a row sequence left before its end keeps its
    /// connection leased).
    private func storedJobs(_ rows: PostgresRowSequence) async throws -> [StoredJob] {
        var jobs: [StoredJob] = []
        for try await row in rows {
            let (
                id, kind, priority, state, attempt, maxAttempts, payload, result, code, message, key, owner, cancel, created, runAt,
                started, finished, progress, tags, dependsOn, runsAfterFailure
            ) = try row.decode(
                (
                    String, String, Int, String, Int, Int, String, String?, String?, String?, String?, String?, Bool,
                    Date, Date, Date?, Date?, Double?, [String], [String], Bool
                ).self)
            var job =
                StoredJob(
                    id: JobID(id), kind: kind, priority: Priority(rawValue: priority) ?? .normal, state: try StateColumn.state(state),
                    attempt: attempt, maxAttempts: maxAttempts, payload: (try? JSONParser.parse(payload)) ?? .null,
                    result: result.flatMap { try? JSONParser.parse($0) },
                    error: code.map { OffloadError(OffloadError.Code(rawValue: $0), message ?? "") },
                    uniqueKey: key, leaseOwner: owner, cancelRequested: cancel, createdAt: created, runAt: runAt, startedAt: started,
                    finishedAt: finished, progress: progress)
            job.tags = tags
            job.dependsOn = dependsOn.map { JobID($0) }
            job.onDependencyFailure = runsAfterFailure ? .run : .cancel
            jobs.append(job)
        }
        return jobs
    }

    /// The job's history, oldest first (``HistoryRows`` tells it from what the queue keeps).
    public func events(of id: JobID) async throws -> [StoredJobEvent] {
        guard UUID(uuidString: id.rawValue) != nil else { return [] }
        try await prepared()
        let rows = try await query(
            """
            SELECT 'attempt', seq, state, attempt, host, started_at, ended_at, ready_at, retry_at, error_code, error_message,
                   NULL::float8, created_at
            FROM \(unescaped: s).job_history WHERE job_id = \(id.rawValue)::uuid
            UNION ALL
            SELECT 'step', seq, type, attempt, host, at, NULL, NULL, run_at, error_code, message, progress, NULL
            FROM \(unescaped: s).job_steps WHERE job_id = \(id.rawValue)::uuid
            UNION ALL
            SELECT 'live', changed, state::text, attempt, lease_owner, started_at, NULL, run_at, NULL, NULL, NULL, NULL, created_at
            FROM \(unescaped: s).jobs WHERE id = \(id.rawValue)::uuid
            ORDER BY 2
            """, logger: logger)
        var history = HistoryRows(rows: [])
        for try await row in rows {
            let (source, seq, type, attempt, host, at, ended, ready, runAt, code, message, progress, created) = try row.decode(
                (String, Int64, String, Int?, String?, Date?, Date?, Date?, Date?, String?, String?, Double?, Date?).self)
            guard let source = HistoryRows.Source(rawValue: source) else { continue }
            history.rows.append(
                HistoryRows.Row(
                    source: source, seq: seq, type: type, attempt: attempt, host: host, at: at, endedAt: ended, readyAt: ready,
                    runAt: runAt, errorCode: code, message: message, progress: progress, createdAt: created))
        }
        return history.events
    }

    /// Waits until the job has finished (completed, failed or cancelled), woken by the
    /// notification its host sends, and returns it.
    /// - Throws: ``OffloadError/Code/timedOut`` after `timeout`; `invalidPayload` for no such job.
    public func finished(_ id: JobID, timeout: Duration? = nil) async throws -> StoredJob {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let wake = Wakeup()
        let stored = id.rawValue.lowercased()  // as PostgreSQL spells a UUID
        let subscription = hub.subscribe { notification in
            switch notification {
            case .done(let done) where done.rawValue == stored: wake.signal()
            case .listening: wake.signal()
            default: break
            }
        }
        defer { hub.unsubscribe(subscription) }
        var failures = 0
        while true {
            let found: StoredJob?
            do {
                found = try await job(id)
                failures = 0
            } catch let error as OffloadError where error.code != .timedOut && error.code != .queueUnavailable {
                throw error
            } catch {
                // The database is away (a restart, a lost connection): look again, for as long as the caller waits.
                failures += 1
                if let deadline, ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: QueueServer.backoff(failures + 1, cap: .seconds(2)))
                continue
            }
            guard let job = found else { throw OffloadError(.invalidPayload, "the queue holds no job \(id)") }
            if job.state.isFinished { return job }
            var wait = Duration.seconds(5)
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { throw OffloadError(.timedOut, "job \(id) is still \(job.state) after \(timeout ?? .zero)") }
                wait = min(wait, left)
            }
            // The notification arrives within milliseconds; the wait bounds a lost one.
            await wake.wait(timeout: wait)
        }
    }

    /// Waits for the job and returns its output as `type`.
    public func value<T: Decodable>(of id: JobID, as type: T.Type, timeout: Duration? = nil) async throws -> T {
        try await finished(id, timeout: timeout).value(as: type)
    }

    /// Cancels a job: a queued one at once, a running one by asking its host.
    @discardableResult
    public func cancel(_ id: JobID) async throws -> CancelAnswer {
        guard UUID(uuidString: id.rawValue) != nil else { return .notFound }
        try await prepared()
        let rows = try await query(
            """
            WITH target AS (
                SELECT id, state FROM \(unescaped: s).jobs WHERE id = \(id.rawValue)::uuid FOR UPDATE
            ), queued AS (
                DELETE FROM \(unescaped: s).jobs AS job USING target
                WHERE job.id = target.id AND target.state IN ('waiting', 'available', 'scheduled')
                RETURNING job.*
            ), running AS (
                UPDATE \(unescaped: s).jobs AS job SET cancel_requested = true, changed = nextval('\(unescaped: s).changes')
                FROM target WHERE job.id = target.id AND target.state = 'running'
                RETURNING job.id, job.attempt, job.lease_owner
            ), history AS (
                INSERT INTO \(unescaped: s).job_history (\(unescaped: HistoryRow.columns))
                SELECT id, attempt, 'cancelled', true, NULL, NULL, now(), run_at, NULL, 'cancelled', 'cancelled before it started', NULL,
                       \(unescaped: HistoryRow.job("queued"))
                FROM queued
            ), logged AS (
                INSERT INTO \(unescaped: s).job_steps (job_id, type, attempt, host) SELECT id, 'cancelRequested', attempt, lease_owner FROM running
            ), told AS (
                SELECT pg_notify('\(unescaped: channels.done)', id::text) FROM queued
                UNION ALL SELECT pg_notify('\(unescaped: channels.cancel)', id::text) FROM running
            )
            SELECT coalesce((SELECT state::text FROM target),
                            (SELECT state FROM \(unescaped: s).job_history WHERE job_id = \(id.rawValue)::uuid AND ended LIMIT 1)),
                   (SELECT count(*) FROM told)::int
            """, logger: logger)
        var before: JobState?
        for try await (state, _) in rows.decode((String?, Int).self) {
            if let state { before = try StateColumn.state(state) }
        }
        switch before {
        case nil: return .notFound
        case .waiting?, .queued?, .scheduled?: return .cancelled
        case .running?: return .requested
        case .completed?, .failed?, .cancelled?: return .alreadyFinished
        }
    }

    /// Runs a failed or cancelled job again, with one more attempt allowed if its attempts were spent.
    /// - Returns: `false` when the job is not failed or cancelled (or does not exist).
    @discardableResult
    public func retry(_ id: JobID) async throws -> Bool {
        guard UUID(uuidString: id.rawValue) != nil else { return false }
        try await prepared()
        let levelMs = configuration.levelMilliseconds
        // Back into the live table with its first number (lists keep their order), its history
        // row no longer its end; a key another job holds now keeps it where it is.
        let rows = try await query(
            """
            WITH last AS (
                SELECT * FROM \(unescaped: s).job_history
                WHERE job_id = \(id.rawValue)::uuid AND ended AND state IN ('failed', 'cancelled')
                FOR UPDATE
            ), again AS (
                INSERT INTO \(unescaped: s).jobs (id, seq, kind, priority, payload, state, attempt, max_attempts, retry_initial_ms,
                                                  retry_multiplier, retry_max_ms, retry_jitter, run_at, rank, timeout_ms, capabilities,
                                                  unique_key, created_at, tags)
                OVERRIDING SYSTEM VALUE
                SELECT job_id, job_seq, kind, priority, payload, 'available', attempt, greatest(max_attempts, attempt + 1), retry_initial_ms,
                       retry_multiplier, retry_max_ms, retry_jitter, now(), \(unescaped: s).job_rank(now(), priority, \(levelMs)),
                       timeout_ms, capabilities, unique_key, created_at, tags
                FROM last
                ON CONFLICT DO NOTHING
                RETURNING id, attempt
            ), superseded AS (
                UPDATE \(unescaped: s).job_history AS h SET ended = false FROM last, again
                WHERE h.job_id = last.job_id AND h.seq = last.seq
            ), logged AS (
                INSERT INTO \(unescaped: s).job_steps (job_id, type, attempt) SELECT id, 'retried', attempt FROM again
            )
            SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM again
            """, logger: logger)
        var found = false
        for try await _ in rows { found = true }
        return found
    }
}
