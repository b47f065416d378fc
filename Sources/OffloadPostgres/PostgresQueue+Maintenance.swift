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
                    SELECT id FROM \(unescaped: s).jobs
                    WHERE state = 'running' AND lease_expires_at < now()
                    ORDER BY lease_expires_at LIMIT \(Self.maintenanceBatch)
                    FOR UPDATE SKIP LOCKED
                ), rescued AS (
                    UPDATE \(unescaped: s).jobs AS job SET
                        state = (CASE WHEN job.cancel_requested THEN 'cancelled'
                                      WHEN job.attempt >= job.max_attempts THEN 'failed'
                                      ELSE 'available' END)::\(unescaped: s).job_state,
                        run_at = now(), rank = \(unescaped: s).job_rank(now(), job.priority, \(levelMs)),
                        finished_at = CASE WHEN job.cancel_requested OR job.attempt >= job.max_attempts THEN now() END,
                        error_code = CASE WHEN job.cancel_requested THEN 'cancelled' ELSE 'leaseExpired' END,
                        error_message = 'attempt ' || job.attempt || ' on ' || job.lease_owner
                                        || ' stopped renewing its lease (the host died or lost the database)',
                        lease_owner = NULL, lease_expires_at = NULL
                    FROM expired WHERE job.id = expired.id
                    RETURNING job.id, job.attempt, job.state, job.error_code, job.error_message
                ), logged AS (
                    -- Back in the queue: rescued; its attempts spent or a cancel asked for: its end.
                    INSERT INTO \(unescaped: s).job_events (job_id, type, attempt, message, error_code)
                    SELECT id, CASE state WHEN 'available' THEN 'rescued' ELSE state::text END, attempt, error_message,
                           CASE WHEN state <> 'available' THEN error_code END
                    FROM rescued
                ), announced AS (
                    SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM rescued WHERE state = 'available' LIMIT 1
                ), ended AS (
                    SELECT pg_notify('\(unescaped: channels.done)', id::text) FROM rescued WHERE state <> 'available'
                )
                SELECT (SELECT count(*) FROM rescued)::int, (SELECT count(*) FROM announced)::int, (SELECT count(*) FROM ended)::int
                """, logger: logger)
            var count = 0
            for try await (rescued, _, _) in rows.decode((Int, Int, Int).self) { count = rescued }
            // Finished jobs past their retention (failed ones stay until retried or deleted).
            try await connection.query(
                """
                DELETE FROM \(unescaped: s).jobs WHERE id IN (
                    SELECT id FROM \(unescaped: s).jobs
                    WHERE state IN ('completed', 'cancelled') AND finished_at < now() - \(retentionMs) * interval '1 millisecond'
                    LIMIT \(Self.maintenanceBatch))
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
