/// Migration 9: the `jobs` table keeps only live jobs (queued, scheduled, running, waiting to
/// retry) with the fewest indexes that serve claims, leases and unique keys; a job's end moves it
/// into `job_history`, one row per attempt, and the steps only a host sees (progress, stop
/// requests, preemptions, hand-backs) go to `job_steps`, an unlogged table that costs the write
/// path no WAL. One sequence, `changes`, orders everything a job goes through.
///
/// Existing data moves: each attempt that ended (a retry, a rescue, an end) becomes a history
/// row, a finished job's last one marked `ended` with its result; the fine steps move to
/// `job_steps`; finished jobs leave `jobs`; `job_events` is dropped. It runs under the
/// migration's advisory lock like every migration, in one transaction.
enum LeanQueue {
    static let migration = Migrations.Migration(
        version: 9, name: "live jobs apart from their history",
        statements: [
            "CREATE SEQUENCE {schema}.changes",
            """
            SELECT setval('{schema}.changes',
                          greatest((SELECT max(seq) FROM {schema}.job_events), (SELECT max(seq) FROM {schema}.jobs), 0) + 1, false)
            """,
            """
            CREATE TABLE {schema}.job_history (
                job_id uuid NOT NULL,
                seq bigint NOT NULL DEFAULT nextval('{schema}.changes'),
                attempt integer NOT NULL,
                state text NOT NULL CHECK (state IN ('completed', 'failed', 'cancelled', 'retryScheduled', 'rescued')),
                ended boolean NOT NULL,
                host text,
                started_at timestamptz,
                ended_at timestamptz NOT NULL,
                ready_at timestamptz NOT NULL,
                retry_at timestamptz,
                error_code text,
                error_message text,
                result json,
                job_seq bigint NOT NULL,
                kind text NOT NULL,
                priority smallint NOT NULL,
                payload json NOT NULL,
                max_attempts integer NOT NULL,
                retry_initial_ms double precision NOT NULL,
                retry_multiplier double precision NOT NULL,
                retry_max_ms double precision NOT NULL,
                retry_jitter double precision NOT NULL,
                timeout_ms bigint,
                capabilities text[] NOT NULL,
                unique_key text,
                created_at timestamptz NOT NULL,
                PRIMARY KEY (job_id, seq)
            )
            """,
            """
            CREATE UNLOGGED TABLE {schema}.job_steps (
                job_id uuid NOT NULL,
                seq bigint NOT NULL DEFAULT nextval('{schema}.changes'),
                at timestamptz NOT NULL DEFAULT clock_timestamp(),
                type text NOT NULL,
                attempt integer,
                host text,
                message text,
                error_code text,
                progress double precision,
                run_at timestamptz,
                PRIMARY KEY (job_id, seq)
            )
            """,
            // Links outlive the job's live row: retention deletes them with its history.
            "ALTER TABLE {schema}.job_artifacts DROP CONSTRAINT IF EXISTS job_artifacts_job_id_fkey",
            // Every attempt that ended, from the events that ended it, with the start before it.
            """
            INSERT INTO {schema}.job_history (\(HistoryRow.leanQueueColumns), seq)
            SELECT e.job_id, coalesce(e.attempt, j.attempt), e.type, false, coalesce(start.host, e.host),
                   CASE WHEN e.attempt IS NOT NULL THEN start.at END, e.at,
                   coalesce((SELECT due.run_at FROM {schema}.job_events AS due
                             WHERE due.job_id = e.job_id AND due.seq < e.seq AND due.run_at IS NOT NULL
                             ORDER BY due.seq DESC LIMIT 1), j.created_at),
                   e.run_at, e.error_code, e.message, NULL, \(HistoryRow.job("j", tags: false)), e.seq
            FROM {schema}.job_events AS e
            JOIN {schema}.jobs AS j ON j.id = e.job_id
            LEFT JOIN LATERAL (
                SELECT s.at, s.host FROM {schema}.job_events AS s
                WHERE s.job_id = e.job_id AND s.type = 'started' AND s.attempt = e.attempt AND s.seq < e.seq
                ORDER BY s.seq DESC LIMIT 1
            ) AS start ON true
            WHERE e.type IN ('retryScheduled', 'rescued', 'completed', 'failed', 'cancelled')
            """,
            // A finished job's last end is its end, with its result and its error as its row has them.
            """
            UPDATE {schema}.job_history AS h SET ended = true, result = j.result, error_code = j.error_code, error_message = j.error_message
            FROM {schema}.jobs AS j
            WHERE h.job_id = j.id AND j.state IN ('completed', 'failed', 'cancelled')
              AND h.seq = (SELECT max(x.seq) FROM {schema}.job_history AS x
                           WHERE x.job_id = j.id AND x.state IN ('completed', 'failed', 'cancelled'))
            """,
            // A finished job with no end among its events still gets one, from its row.
            """
            INSERT INTO {schema}.job_history (\(HistoryRow.leanQueueColumns))
            SELECT j.id, j.attempt, j.state::text, true, j.lease_owner, j.started_at, coalesce(j.finished_at, now()), j.run_at, NULL,
                   j.error_code, j.error_message, j.result, \(HistoryRow.job("j", tags: false))
            FROM {schema}.jobs AS j
            WHERE j.state IN ('completed', 'failed', 'cancelled')
              AND NOT EXISTS (SELECT 1 FROM {schema}.job_history AS h WHERE h.job_id = j.id AND h.ended)
            """,
            // The fine steps, and the starts a history row does not give: a restart within an
            // attempt, and a claim handed back before it ran.
            """
            INSERT INTO {schema}.job_steps (job_id, seq, at, type, attempt, host, message, error_code, progress, run_at)
            SELECT e.job_id, e.seq, e.at, e.type, e.attempt, e.host, e.message, e.error_code, e.progress, e.run_at
            FROM {schema}.job_events AS e
            WHERE e.type IN ('progress', 'stopRequested', 'cancelRequested', 'preempted', 'released', 'leaseLost', 'retried')
               OR (e.type = 'started' AND (
                       EXISTS (SELECT 1 FROM {schema}.job_events AS first
                               WHERE first.job_id = e.job_id AND first.type = 'started' AND first.attempt = e.attempt AND first.seq < e.seq)
                    OR EXISTS (SELECT 1 FROM {schema}.job_events AS back
                               WHERE back.job_id = e.job_id AND back.type = 'released' AND back.attempt = e.attempt AND back.seq > e.seq)))
            """,
            "DELETE FROM {schema}.jobs WHERE state IN ('completed', 'failed', 'cancelled')",
            "DROP TABLE {schema}.job_events",
            """
            DROP INDEX {schema}.jobs_finished, {schema}.jobs_by_state, {schema}.jobs_seq, {schema}.jobs_completed_unique_key,
                       {schema}.jobs_unique_key
            """,
            """
            ALTER TABLE {schema}.jobs DROP COLUMN result, DROP COLUMN finished_at,
                ADD COLUMN changed bigint NOT NULL DEFAULT nextval('{schema}.changes')
            """,
            // A table whose every row is deleted within seconds: vacuumed after 2 % of it is dead, not 20 %.
            "ALTER TABLE {schema}.jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02)",
            "CREATE UNIQUE INDEX jobs_unique_key ON {schema}.jobs (unique_key) WHERE unique_key IS NOT NULL",
            // Lists newest first (by submission) of ended jobs; cards drawn before, by key;
            // the change feed and retention, by the order rows were written.
            "CREATE INDEX job_history_list ON {schema}.job_history (job_seq) WHERE ended",
            "CREATE INDEX job_history_cards ON {schema}.job_history (unique_key, ended_at) WHERE unique_key IS NOT NULL AND state = 'completed'",
            "CREATE INDEX job_history_order ON {schema}.job_history USING brin (seq, ended_at)",
            "CREATE INDEX job_steps_order ON {schema}.job_steps USING brin (seq)"
        ])
}

/// A row of `job_history` made from a row of `jobs`: the columns every statement that moves a
/// job inserts, in this order.
enum HistoryRow {
    /// The columns as migration 9 made them (before a job had tags): what it moves old rows into.
    static let leanQueueColumns = """
        job_id, attempt, state, ended, host, started_at, ended_at, ready_at, retry_at, error_code, error_message, result, \
        job_seq, kind, priority, payload, max_attempts, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, \
        timeout_ms, capabilities, unique_key, created_at
        """

    static let columns = leanQueueColumns + ", tags"

    /// The job's own columns (from `job_seq` on) of `row`, a row of `jobs` or one a statement
    /// returned from it; without `tags` for migration 9.
    static func job(_ row: String, tags: Bool = true) -> String {
        [
            "seq", "kind", "priority", "payload", "max_attempts", "retry_initial_ms", "retry_multiplier", "retry_max_ms", "retry_jitter",
            "timeout_ms", "capabilities", "unique_key", "created_at"
        ].map { "\(row).\($0)" }.joined(separator: ", ") + (tags ? ", \(row).tags" : "")
    }
}
