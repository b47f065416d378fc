/// Migration 13: limits per kind across hosts (`kind_limits`), kept in the claim. A claim whose
/// kinds have no limit walks the ready index as before; one with limited kinds locks each such
/// kind's row in turn (in name order: no deadlock), which serialises the claims of that kind
/// alone, then counts what runs and what its rate allows in a statement of its own, whose
/// snapshot is taken after the lock (each statement of a PL/pgSQL function takes one), so that
/// two hosts never both see the same free place. The best `wanted` of the open and the limited kinds' candidates are taken,
/// in the queue's order; a rate's next start moves by a spacing per job taken. No JIT: with sorts
/// disabled, the few unavoidable ones (of a dozen candidates) cost past its threshold and were
/// compiled, at 150 ms a claim.
enum KindLimitsMigration {
    static let migration = Migrations.Migration(
        version: 13, name: "limits per kind",
        statements: [
            """
            CREATE TABLE {schema}.kind_limits (
                kind text PRIMARY KEY,
                max_concurrent integer CHECK (max_concurrent > 0),
                rate_jobs integer CHECK (rate_jobs > 0),
                rate_interval_ms double precision CHECK (rate_interval_ms > 0),
                rate_next_start timestamptz,
                paused boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now(),
                CHECK ((rate_jobs IS NULL) = (rate_interval_ms IS NULL))
            )
            """,
            // When a rate's next start is due, its lateness caught up to the slack (Swift's
            // `KindLimits.Rate`): a tenth of the interval, or half a spacing when that is more.
            """
            CREATE FUNCTION {schema}.rate_due(next_start timestamptz, interval_ms double precision, jobs integer) RETURNS timestamptz
            LANGUAGE sql STABLE PARALLEL SAFE
            RETURN greatest(coalesce(next_start, now()), now() - greatest(interval_ms / jobs / 2, interval_ms / 10) * interval '1 millisecond')
            """,
            // The ready jobs of one kind in the queue's order: what a claim with limited kinds walks.
            "CREATE INDEX jobs_ready_by_kind ON {schema}.jobs (kind, rank, seq) WHERE state IN ('available', 'scheduled')",
            "DROP FUNCTION {schema}.ready_jobs(text[], text[], integer)",
            """
            CREATE FUNCTION {schema}.ready_jobs(kinds text[], capabilities text[], wanted integer, local_room integer[])
            RETURNS SETOF uuid
            LANGUAGE plpgsql VOLATILE SET enable_sort = off SET enable_bitmapscan = off SET jit = off AS $$
            DECLARE
                held text[];
                limited record;
                room integer;
                queue_room integer;
                ids uuid[] := '{}';
                ranks timestamptz[] := '{}';
                seqs bigint[] := '{}';
                of_kind text[] := '{}';
                chosen uuid[];
                chosen_kinds text[];
            BEGIN
                SELECT coalesce(array_agg(DISTINCT g.kind), '{}') INTO held
                FROM (SELECT l.kind FROM {schema}.kind_limits AS l
                      WHERE l.kind = ANY(ready_jobs.kinds)
                        AND (l.paused OR l.max_concurrent IS NOT NULL OR l.rate_jobs IS NOT NULL)
                      UNION ALL
                      SELECT r.kind FROM unnest(ready_jobs.kinds, ready_jobs.local_room) AS r (kind, free) WHERE r.free >= 0) AS g;
                IF cardinality(held) = 0 THEN
                    RETURN QUERY
                        SELECT j.id FROM {schema}.jobs AS j
                        WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                          AND j.kind = ANY(ready_jobs.kinds) AND j.capabilities <@ ready_jobs.capabilities
                        ORDER BY j.rank, j.seq
                        LIMIT wanted
                        FOR UPDATE SKIP LOCKED;
                    RETURN;
                END IF;
                -- The kinds without limits, each along its own range of `jobs_ready_by_kind`: a
                -- walk of the ready index would pass every waiting job of the limited kinds.
                SELECT coalesce(array_agg(o.id), '{}'), coalesce(array_agg(o.rank), '{}'), coalesce(array_agg(o.seq), '{}'),
                       coalesce(array_agg(o.kind), '{}')
                INTO ids, ranks, seqs, of_kind
                FROM (SELECT u.kind FROM unnest(ready_jobs.kinds) AS u (kind) WHERE NOT (u.kind = ANY(held))) AS k
                CROSS JOIN LATERAL (
                    SELECT j.id, j.rank, j.seq, j.kind FROM {schema}.jobs AS j
                    WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                      AND j.kind = k.kind AND j.capabilities <@ ready_jobs.capabilities
                    ORDER BY j.rank, j.seq
                    LIMIT wanted
                    FOR UPDATE SKIP LOCKED) AS o;
                FOR limited IN
                    SELECT h.kind, r.free FROM unnest(held) AS h (kind)
                    LEFT JOIN unnest(ready_jobs.kinds, ready_jobs.local_room) AS r (kind, free) ON r.kind = h.kind
                    ORDER BY h.kind
                LOOP
                    room := CASE WHEN limited.free >= 0 THEN least(wanted, limited.free) ELSE wanted END;
                    -- The kind's row, locked until the claim commits: the next claim of the kind
                    -- waits here. What runs is counted by the next statement, whose snapshot,
                    -- taken after the lock, holds the jobs of the claim that had it.
                    PERFORM FROM {schema}.kind_limits AS l WHERE l.kind = limited.kind FOR UPDATE;
                    IF FOUND THEN
                        SELECT CASE WHEN l.paused THEN 0 ELSE least(
                                   coalesce(l.max_concurrent - (SELECT count(*)::int FROM {schema}.jobs AS r
                                                                WHERE r.state = 'running' AND r.kind = l.kind), wanted),
                                   coalesce(floor(extract(epoch FROM now() - {schema}.rate_due(l.rate_next_start, l.rate_interval_ms, l.rate_jobs)) * 1000
                                                  / (l.rate_interval_ms / l.rate_jobs))::int + 1, wanted)) END
                        INTO queue_room
                        FROM {schema}.kind_limits AS l WHERE l.kind = limited.kind;
                        room := least(room, queue_room);
                    END IF;
                    IF room > 0 THEN
                        SELECT ids || coalesce(array_agg(c.id), '{}'), ranks || coalesce(array_agg(c.rank), '{}'),
                               seqs || coalesce(array_agg(c.seq), '{}'), of_kind || coalesce(array_agg(c.kind), '{}')
                        INTO ids, ranks, seqs, of_kind
                        FROM (SELECT j.id, j.rank, j.seq, j.kind FROM {schema}.jobs AS j
                              WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                                AND j.kind = limited.kind AND j.capabilities <@ ready_jobs.capabilities
                              ORDER BY j.rank, j.seq
                              LIMIT room
                              FOR UPDATE SKIP LOCKED) AS c;
                    END IF;
                END LOOP;
                SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.kind), '{}') INTO chosen, chosen_kinds
                FROM (SELECT u.id, u.kind FROM unnest(ids, ranks, seqs, of_kind) AS u (id, rank, seq, kind)
                      ORDER BY u.rank, u.seq LIMIT wanted) AS c;
                UPDATE {schema}.kind_limits AS l
                SET rate_next_start = {schema}.rate_due(l.rate_next_start, l.rate_interval_ms, l.rate_jobs)
                                      + n.taken * (l.rate_interval_ms / l.rate_jobs) * interval '1 millisecond'
                FROM (SELECT t.kind, count(*) AS taken FROM unnest(chosen_kinds) AS t (kind) GROUP BY t.kind) AS n
                WHERE l.kind = n.kind AND l.rate_jobs IS NOT NULL;
                RETURN QUERY SELECT unnest(chosen);
            END
            $$
            """
        ])
}
