public import Offload
import PostgresNIO

// Limits per kind across hosts: rows of `kind_limits`, kept by every claim (see migrations 13 and
// 18).
extension PostgresQueue {
    public func kindLimits() async throws -> [String: KindLimits] {
        try await prepared()
        let rows = try await query(
            """
            SELECT kind, max_concurrent, rate_jobs, rate_interval_ms, paused FROM \(unescaped: s).kind_limits
            WHERE paused OR max_concurrent IS NOT NULL OR rate_jobs IS NOT NULL
            """, logger: logger)
        var limits: [String: KindLimits] = [:]
        for try await (kind, maxConcurrent, rateJobs, rateMs, paused) in rows.decode((String, Int?, Int?, Double?, Bool).self) {
            limits[kind] = KindLimits(
                maxConcurrent: maxConcurrent,
                rate: rateJobs.flatMap { jobs in rateMs.map { KindLimits.Rate(jobs: jobs, per: .milliseconds($0)) } },
                isPaused: paused)
        }
        return limits
    }

    public func setLimits(_ limits: KindLimits, for kind: String) async throws {
        try limits.validate()
        try await prepared()
        let rateMs = limits.rate.map { $0.per.milliseconds }
        // Waits for a claim of the kind that holds its row; fits the kind's room to the new
        // limit on running jobs (migration 18); wakes the hosts, which may now take what the old
        // limits held back.
        try await transaction { [self] connection in
            try await connection.query(
                """
                INSERT INTO \(unescaped: s).kind_limits (kind, max_concurrent, rate_jobs, rate_interval_ms, paused)
                VALUES (\(kind), \(limits.maxConcurrent), \(limits.rate?.jobs), \(rateMs), \(limits.isPaused))
                ON CONFLICT (kind) DO UPDATE
                SET max_concurrent = excluded.max_concurrent, rate_jobs = excluded.rate_jobs,
                    rate_interval_ms = excluded.rate_interval_ms, paused = excluded.paused, updated_at = now(),
                    rate_next_start = CASE WHEN excluded.rate_jobs IS NULL THEN NULL ELSE kind_limits.rate_next_start END
                """, logger: logger)
            try await connection.query(
                """
                SELECT \(unescaped: s).fit_room(\(kind), \(limits.maxConcurrent)::int), pg_notify('\(unescaped: channels.jobs)', '')
                """, logger: logger)
        }
    }

    /// Pauses `kind` on every host (its running jobs go on), or lets it start jobs again; its
    /// other limits are kept.
    public func setPaused(_ paused: Bool, kind: String) async throws {
        try await prepared()
        try await query(
            """
            WITH set AS (
                INSERT INTO \(unescaped: s).kind_limits (kind, paused) VALUES (\(kind), \(paused))
                ON CONFLICT (kind) DO UPDATE SET paused = excluded.paused, updated_at = now()
                RETURNING kind
            )
            SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM set
            """, logger: logger)
    }
}
