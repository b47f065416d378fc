import PostgresNIO

/// The ends of a host's jobs, recorded in one prepared statement: an end moves the job out of
/// the live table into its history; a retry keeps it there, scheduled after its back-off, with a
/// history row for the attempt; a snooze too, scheduled after its delay, an attempt added to its
/// most. Both are fenced by the claim (id, attempt, lease owner, state
/// `running`); the ids of the jobs whose end was recorded come back (a retry's too), then one
/// `NULL` per notification of ended jobs (at most ``idsPerNotification`` ids each).
struct FinishStatement: PostgresPreparedStatement {
    typealias Row = String?

    static let sql = """
        WITH ends AS (
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $10::bigint[])
                AS e (id, attempt, owner, state, result, code, message, snooze_ms)
        ), gone AS (
            -- The state compared as text: each row is found by its primary key (see the claims).
            DELETE FROM jobs AS job USING ends AS e
            WHERE job.id = e.id AND job.attempt = e.attempt AND job.lease_owner = e.owner AND job.state::text = 'running'
              AND e.state NOT IN ('scheduled', 'snoozed')
            RETURNING job.*, e.state AS outcome, e.result AS output, e.code, e.message
        ), retries AS (
            SELECT e.*, j.run_at AS ready_at,
                   CASE WHEN e.state = 'snoozed' THEN now() + e.snooze_ms * interval '1 millisecond'
                        ELSE now() + retry_delay(j.retry_initial_ms, j.retry_multiplier, j.retry_max_ms, j.retry_jitter, j.attempt)
                   END AS due
            FROM ends AS e JOIN jobs AS j ON j.id = e.id
            WHERE e.state IN ('scheduled', 'snoozed')
        ), retried AS (
            -- A snooze keeps the job's last error and adds the attempt it made to its most.
            UPDATE jobs AS job
            SET state = 'scheduled', run_at = r.due, rank = job_rank(r.due, job.priority, $8::float8),
                max_attempts = job.max_attempts + (r.state = 'snoozed')::int,
                error_code = CASE WHEN r.state = 'snoozed' THEN job.error_code ELSE NULLIF(r.code, '') END,
                error_message = CASE WHEN r.state = 'snoozed' THEN job.error_message ELSE NULLIF(r.message, '') END,
                lease_owner = NULL, lease_expires_at = NULL, changed = nextval('changes')
            FROM retries AS r
            WHERE job.id = r.id AND job.attempt = r.attempt AND job.lease_owner = r.owner AND job.state::text = 'running'
            RETURNING job.*, r.ready_at, r.due, r.owner, r.code, r.message, r.state AS step
        ), history AS (
            INSERT INTO job_history (\(HistoryRow.columns))
            SELECT id, attempt, outcome, true, lease_owner, started_at, now(), run_at, NULL, NULLIF(code, ''), NULLIF(message, ''),
                   NULLIF(output, '')::json, \(HistoryRow.job("gone"))
            FROM gone
            UNION ALL
            SELECT id, attempt, CASE WHEN step = 'snoozed' THEN 'snoozed' ELSE 'retryScheduled' END, false, owner, started_at, now(),
                   ready_at, due, CASE WHEN step = 'snoozed' THEN NULL ELSE NULLIF(code, '') END, NULLIF(message, ''),
                   NULL, \(HistoryRow.job("retried"))
            FROM retried
        )
        SELECT id::text FROM gone
        UNION ALL
        SELECT id::text FROM retried
        UNION ALL
        SELECT NULL FROM (
            SELECT pg_notify($9::text, string_agg(id::text, ','))
            FROM (SELECT id, (row_number() OVER ()) / \(idsPerNotification) AS chunk FROM gone) AS ended
            GROUP BY chunk
        ) AS notified
        """

    /// Finished jobs named by one notification (ids joined by commas, under PostgreSQL's
    /// 8,000-byte payload limit).
    static let idsPerNotification = 100

    /// One entry per end: the claim, the state it ends in (`scheduled` for a retry, `snoozed`
    /// for a snooze), the result and error as text ('' for none: arrays of optionals do not
    /// encode), and a snooze's milliseconds (0 for the others).
    var ids: [String]
    var attempts: [Int]
    var owners: [String]
    var states: [String]
    var results: [String]
    var codes: [String]
    var messages: [String]
    var snoozeMilliseconds: [Int64]
    /// The queue's aging level, for a retry's rank.
    var levelMilliseconds: Double
    /// The channel that announces ended jobs.
    var channel: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 10)
        bindings.append(ids)
        bindings.append(attempts)
        bindings.append(owners)
        bindings.append(states)
        bindings.append(results)
        bindings.append(codes)
        bindings.append(messages)
        bindings.append(levelMilliseconds)
        bindings.append(channel)
        bindings.append(snoozeMilliseconds)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> String? { try row.decode(String?.self) }
}
