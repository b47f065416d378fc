import Offload
import PostgresNIO

// Upkeep: any host may run it; an advisory lock held for the transaction lets one at a time.
extension PostgresQueue {
    /// The most rows one pass rescues or deletes (the rest wait for the next pass).
    static let maintenanceBatch = 1_000

    public func maintain() async throws {
        try await prepared()
        let levelMs = configuration.levelMilliseconds
        let retentionMs = configuration.retention.milliseconds
        let rescued = try await transaction { [self] connection -> Int in
            let lock = try await connection.query(
                "SELECT pg_try_advisory_xact_lock(hashtext(\("offload.maintain." + configuration.schema)))",
                logger: logger)
            var locked = false
            for try await held in lock.decode(Bool.self) { locked = held }
            guard locked else { return 0 }
            // Jobs whose host stopped renewing: back to the queue with their attempt counted, or
            // failed when it was their last (cancelled when a cancel was asked for meanwhile).
            let rows = try await connection.query(
                """
                WITH expired AS (
                    SELECT id, run_at, lease_owner AS owner, cancel_requested OR attempt >= max_attempts AS final,
                           CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END AS outcome,
                           'attempt ' || attempt || ' on ' || lease_owner || ' stopped renewing its lease (the host died or lost the database)'
                               AS message
                    FROM \(unescaped: s).jobs
                    WHERE state = 'running' AND lease_expires_at < now()
                    ORDER BY lease_expires_at LIMIT \(Self.maintenanceBatch)
                    FOR UPDATE SKIP LOCKED
                ), ended AS (
                    DELETE FROM \(unescaped: s).jobs AS job USING expired AS x WHERE job.id = x.id AND x.final
                    RETURNING job.*, x.outcome, x.message
                ), rescued AS (
                    UPDATE \(unescaped: s).jobs AS job
                    SET state = 'available', run_at = now(), rank = \(unescaped: s).job_rank(now(), job.priority, \(levelMs)),
                        error_code = 'leaseExpired', error_message = x.message, lease_owner = NULL, lease_expires_at = NULL,
                        changed = nextval('\(unescaped: s).changes')
                    FROM expired AS x WHERE job.id = x.id AND NOT x.final
                    RETURNING job.*, x.owner, x.run_at AS ready_at
                ), history AS (
                    -- Its attempts spent or a cancel asked for: its end; otherwise back in the queue.
                    INSERT INTO \(unescaped: s).job_history (\(unescaped: HistoryRow.columns))
                    SELECT id, attempt, outcome, true, lease_owner, started_at, now(), run_at, NULL,
                           CASE outcome WHEN 'cancelled' THEN 'cancelled' ELSE 'leaseExpired' END, message, NULL::json,
                           \(unescaped: HistoryRow.job("ended"))
                    FROM ended
                    UNION ALL
                    SELECT id, attempt, 'rescued', false, owner, started_at, now(), ready_at, run_at, error_code, error_message, NULL,
                           \(unescaped: HistoryRow.job("rescued"))
                    FROM rescued
                ), announced AS (
                    SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM rescued LIMIT 1
                ), told AS (
                    SELECT pg_notify('\(unescaped: channels.done)', id::text) FROM ended
                )
                SELECT (SELECT count(*) FROM expired)::int, (SELECT count(*) FROM announced)::int, (SELECT count(*) FROM told)::int
                """, logger: logger)
            var count = 0
            for try await (rescued, _, _) in rows.decode((Int, Int, Int).self) { count = rescued }
            // Finished jobs past their retention, with their history, steps and links (failed
            // ones stay until retried or deleted).
            try await connection.query(
                """
                WITH old AS (
                    SELECT job_id FROM \(unescaped: s).job_history
                    WHERE ended AND state IN ('completed', 'cancelled') AND ended_at < now() - \(retentionMs) * interval '1 millisecond'
                    LIMIT \(Self.maintenanceBatch)
                ), history AS (
                    DELETE FROM \(unescaped: s).job_history AS h USING old WHERE h.job_id = old.job_id
                ), steps AS (
                    DELETE FROM \(unescaped: s).job_steps AS step USING old WHERE step.job_id = old.job_id
                )
                DELETE FROM \(unescaped: s).job_artifacts AS link USING old WHERE link.job_id = old.job_id
                """, logger: logger)
            // Artifacts no job refers to any more (an hour's grace for one stored just before
            // its job's end was recorded).
            try await connection.query(
                """
                DELETE FROM \(unescaped: s).artifacts AS artifact
                WHERE artifact.created_at < now() - interval '1 hour'
                  AND NOT EXISTS (SELECT 1 FROM \(unescaped: s).job_artifacts AS link WHERE link.sha256 = artifact.sha256)
                """, logger: logger)
            return count
        }
        if rescued > 0 { logger.info("rescued jobs whose lease expired", metadata: ["jobs": "\(rescued)"]) }
    }
}
