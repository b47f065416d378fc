import Foundation
public import Offload
import PostgresNIO

// Looking at jobs, waiting for them, cancelling and re-running them: from any process.
extension PostgresQueue {
    /// The job, or `nil` when the queue holds no such job.
    public func job(_ id: JobID) async throws -> StoredJob? {
        guard UUID(uuidString: id.rawValue) != nil else { return nil }
        try await prepared()
        return try await storedJobs(
            try await query(
                """
                SELECT \(unescaped: jobColumns) FROM \(unescaped: s).jobs WHERE id = \(id.rawValue)::uuid
                """, logger: logger)
        ).first
    }

    /// Jobs newest first (by submission), in `state` and of `kind` when given, older than the
    /// job `before` (the last of the previous page).
    /// - Throws: ``OffloadError/Code/invalidPayload`` when `before` is not a job of the queue.
    public func jobs(state: JobState? = nil, kind: String? = nil, limit: Int = 50, before: JobID? = nil) async throws -> [StoredJob] {
        let state = state.map(StateColumn.name)
        try await prepared()
        var cursor = Int64.max
        if let before {
            guard UUID(uuidString: before.rawValue) != nil else {
                throw OffloadError(.invalidPayload, "after: '\(before)' is not a job id of the queue")
            }
            var found: Int64?
            for try await seq in try await query("SELECT seq FROM \(unescaped: s).jobs WHERE id = \(before.rawValue)::uuid", logger: logger)
                .decode(Int64.self)
            { found = seq }
            guard let found else { throw OffloadError(.invalidPayload, "after: the queue holds no job '\(before)'") }
            cursor = found
        }
        return try await storedJobs(
            try await query(
                """
                SELECT \(unescaped: jobColumns) FROM \(unescaped: s).jobs
                WHERE seq < \(cursor) AND (\(state)::text IS NULL OR state::text = \(state))
                  AND (\(kind)::text IS NULL OR kind = \(kind))
                ORDER BY seq DESC LIMIT \(max(1, min(limit, 1_000)))
                """, logger: logger))
    }

    /// The jobs that have had an event since event `seq` (0: from the start), each as it is
    /// now, at most `limit` of them, and the last event seen: a feed of changes to poll.
    public func changes(after seq: Int64, limit: Int = 500) async throws -> (jobs: [StoredJob], last: Int64) {
        try await prepared()
        var last = seq
        var ids: [String] = []
        for try await (id, eventSeq) in try await query(
            """
            SELECT job_id::text, max(seq) FROM (
                SELECT job_id, seq FROM \(unescaped: s).job_events WHERE seq > \(seq) ORDER BY seq LIMIT \(max(1, limit) * 4)
            ) AS recent GROUP BY job_id ORDER BY max(seq) LIMIT \(max(1, limit))
            """, logger: logger
        ).decode((String, Int64).self) {
            ids.append(id)
            last = max(last, eventSeq)
        }
        guard !ids.isEmpty else { return ([], last) }
        let jobs = try await storedJobs(
            try await query(
                """
                SELECT \(unescaped: jobColumns) FROM \(unescaped: s).jobs WHERE id = ANY(\(ids)::uuid[])
                """, logger: logger))
        return (jobs, last)
    }

    /// The newest event's number (where a feed of ``changes(after:limit:)`` starts from now).
    public func lastEventSeq() async throws -> Int64 {
        try await prepared()
        var last: Int64 = 0
        for try await seq in try await query("SELECT coalesce(max(seq), 0) FROM \(unescaped: s).job_events", logger: logger).decode(Int64.self) {
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
                SELECT \(unescaped: jobColumns) FROM \(unescaped: s).jobs
                WHERE unique_key = \(uniqueKey) AND state = 'completed' ORDER BY finished_at DESC LIMIT 1
                """, logger: logger)
        ).first
    }

    var jobColumns: String {
        """
        id::text, kind, priority::int, state::text, attempt, max_attempts, payload::text, result::text, error_code, error_message,
        unique_key, lease_owner, cancel_requested, created_at, run_at, started_at, finished_at,
        CASE WHEN state = 'running' THEN (SELECT progress FROM \(s).job_events AS step
                                          WHERE step.job_id = jobs.id AND step.type = 'progress' AND step.attempt = jobs.attempt
                                          ORDER BY seq DESC LIMIT 1) END
        """
    }

    /// Rows of ``jobColumns``, every one read (a row sequence left before its end keeps its
    /// connection leased).
    private func storedJobs(_ rows: PostgresRowSequence) async throws -> [StoredJob] {
        var jobs: [StoredJob] = []
        for try await row in rows {
            let (
                id, kind, priority, state, attempt, maxAttempts, payload, result, code, message, key, owner, cancel, created, runAt,
                started, finished, progress
            ) = try row.decode(
                (
                    String, String, Int, String, Int, Int, String, String?, String?, String?, String?, String?, Bool,
                    Date, Date, Date?, Date?, Double?
                ).self)
            jobs.append(
                StoredJob(
                    id: JobID(id), kind: kind, priority: Priority(rawValue: priority) ?? .normal, state: try StateColumn.state(state),
                    attempt: attempt, maxAttempts: maxAttempts, payload: (try? JSONParser.parse(payload)) ?? .null,
                    result: result.flatMap { try? JSONParser.parse($0) },
                    error: code.map { OffloadError(OffloadError.Code(rawValue: $0), message ?? "") },
                    uniqueKey: key, leaseOwner: owner, cancelRequested: cancel, createdAt: created, runAt: runAt, startedAt: started,
                    finishedAt: finished, progress: progress))
        }
        return jobs
    }

    /// The job's history, oldest first.
    public func events(of id: JobID) async throws -> [StoredJobEvent] {
        guard UUID(uuidString: id.rawValue) != nil else { return [] }
        try await prepared()
        let rows = try await query(
            """
            SELECT type, at, attempt, host, message, error_code, progress, run_at FROM \(unescaped: s).job_events WHERE job_id = \(id.rawValue)::uuid ORDER BY seq
            """, logger: logger)
        var events: [StoredJobEvent] = []
        for try await (type, at, attempt, host, message, code, progress, runAt)
            in rows.decode((String, Date, Int?, String?, String?, String?, Double?, Date?).self)
        {
            events.append(
                StoredJobEvent(
                    type: type, at: at, attempt: attempt, host: host, message: message, errorCode: code,
                    progress: progress, runAt: runAt))
        }
        return events
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
                UPDATE \(unescaped: s).jobs AS job
                SET state = 'cancelled', finished_at = now(), error_code = 'cancelled', error_message = 'cancelled before it started'
                FROM target WHERE job.id = target.id AND target.state IN ('available', 'scheduled')
                RETURNING job.id
            ), running AS (
                UPDATE \(unescaped: s).jobs AS job SET cancel_requested = true
                FROM target WHERE job.id = target.id AND target.state = 'running'
                RETURNING job.id
            ), logged AS (
                INSERT INTO \(unescaped: s).job_events (job_id, type, message, error_code)
                SELECT id, 'cancelled', 'cancelled before it started', 'cancelled' FROM queued
                UNION ALL SELECT id, 'cancelRequested', NULL, NULL FROM running
            ), told AS (
                SELECT pg_notify('\(unescaped: channels.done)', id::text) FROM queued
                UNION ALL SELECT pg_notify('\(unescaped: channels.cancel)', id::text) FROM running
            )
            SELECT (SELECT state::text FROM target), (SELECT count(*) FROM told)::int
            """, logger: logger)
        var before: JobState?
        for try await (state, _) in rows.decode((String?, Int).self) {
            if let state { before = try StateColumn.state(state) }
        }
        switch before {
        case nil: return .notFound
        case .queued?, .scheduled?: return .cancelled
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
        let rows = try await query(
            """
            WITH again AS (
                UPDATE \(unescaped: s).jobs
                SET state = 'available', max_attempts = greatest(max_attempts, attempt + 1), run_at = now(),
                    rank = \(unescaped: s).job_rank(now(), priority, \(levelMs)), finished_at = NULL, cancel_requested = false,
                    result = NULL, error_code = NULL, error_message = NULL
                WHERE id = \(id.rawValue)::uuid AND state IN ('failed', 'cancelled')
                RETURNING id, attempt
            ), logged AS (
                INSERT INTO \(unescaped: s).job_events (job_id, type, attempt) SELECT id, 'retried', attempt FROM again
            )
            SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM again
            """, logger: logger)
        var found = false
        for try await _ in rows { found = true }
        return found
    }
}
