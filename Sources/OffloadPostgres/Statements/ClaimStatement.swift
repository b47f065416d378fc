import PostgresNIO

/// A host's claim, in one prepared statement: up to `limit` ready jobs of its kinds and
/// capabilities, in the queue's order, locked (`FOR UPDATE SKIP LOCKED`, in `ready_jobs`) and
/// leased to the host. Nothing is written but the jobs' rows.
struct ClaimStatement: PostgresPreparedStatement {
    typealias Row = (String, String, Int, String, Int, Int, Int?, [String], Double, Double, Double, Double, String?)

    static let sql = """
        WITH claimed AS (
            -- An array of ids, so that the update finds them by the primary key whatever the
            -- table's statistics say (a join may be planned as a scan of the whole table).
            UPDATE jobs AS job
            SET state = 'running', attempt = job.attempt + 1, lease_owner = $1::text,
                lease_expires_at = now() + $2::float8 * interval '1 millisecond', started_at = now(), cancel_requested = false,
                changed = nextval('changes')
            WHERE job.id = ANY(ARRAY(SELECT ready_jobs($3::text[], $4::text[], $5::int)))
            RETURNING job.*
        )
        SELECT id::text, kind, priority::int, payload::text, attempt, max_attempts, timeout_ms, capabilities,
               retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, trace
        FROM claimed ORDER BY rank, seq
        """

    var host: String
    var leaseMilliseconds: Double
    var kinds: [String]
    /// Sorted.
    var capabilities: [String]
    var limit: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(host)
        bindings.append(leaseMilliseconds)
        bindings.append(kinds)
        bindings.append(capabilities)
        bindings.append(limit)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
