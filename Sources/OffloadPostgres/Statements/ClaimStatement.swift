import PostgresNIO

/// A host's claim, in one prepared statement: up to `limit` ready jobs of its kinds and
/// capabilities, in the queue's order, locked (`FOR UPDATE SKIP LOCKED`, in `claimable_jobs`) and
/// leased to the host. Nothing is written but the jobs' rows (and, for a kind limited in running
/// jobs, the room they take).
struct ClaimStatement: PostgresPreparedStatement {
    typealias Row = (String, String, Int, String, Int, Int, Int?, [String], Double, Double, Double, Double, String?)

    static let sql = """
        WITH ready AS MATERIALIZED (
            SELECT r.id, r.kind, r.counted FROM claimable_jobs($3::text[], $4::text[], $5::int, $6::int[]) AS r
        ), claimed AS (
            -- An array of ids, so that the update finds them by the primary key whatever the
            -- table's statistics say (a join may be planned as a scan of the whole table). The
            -- start is the clock's: a claim of a rate-limited kind may have waited for its lock.
            -- A job of a kind limited in running jobs counts against the limit until it leaves `running`.
            UPDATE jobs AS job
            SET state = 'running', attempt = job.attempt + 1, lease_owner = $1::text,
                lease_expires_at = now() + $2::float8 * interval '1 millisecond', started_at = clock_timestamp(), cancel_requested = false,
                changed = nextval('changes'), counted = (SELECT ready.counted FROM ready WHERE ready.id = job.id)
            WHERE job.id = ANY(ARRAY(SELECT ready.id FROM ready))
            RETURNING job.*
        ), unclaimed AS MATERIALIZED (
            -- Jobs `claimable_jobs` locked that this statement cannot see (committed after it began by
            -- a submission that began before it): not claimed, so the places taken for them go back.
            SELECT give_room(u.kind, u.n)
            FROM (SELECT r.kind, count(*)::int AS n FROM ready AS r
                  WHERE r.counted AND NOT EXISTS (SELECT FROM claimed AS c WHERE c.id = r.id)
                  GROUP BY r.kind ORDER BY r.kind) AS u
        )
        SELECT id::text, kind, priority::int, payload::text, attempt, max_attempts, timeout_ms, capabilities,
               retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, trace
        FROM claimed
        WHERE (SELECT count(*) FROM unclaimed) >= 0
        ORDER BY rank, seq
        """

    var host: String
    var leaseMilliseconds: Double
    var kinds: [String]
    /// Sorted.
    var capabilities: [String]
    var limit: Int
    /// Per kind, in the order of `kinds`: the jobs the host's own limits leave room for (-1
    /// where they hold none: arrays of optionals do not encode).
    var localRoom: [Int]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 6)
        bindings.append(host)
        bindings.append(leaseMilliseconds)
        bindings.append(kinds)
        bindings.append(capabilities)
        bindings.append(limit)
        bindings.append(localRoom)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
