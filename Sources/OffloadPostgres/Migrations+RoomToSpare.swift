/// Migration 19: a claim whose limits hold nothing back walks the queue as a claim without them.
///
/// Migration 18's one-statement path shapes the walk to each limited kind's room (a range of
/// `jobs_ready_by_kind` per kind, the shards' running sums, the room each gives), at about five
/// times the plain walk's cost (0.26 against 0.05 ms for a claim of 33 jobs). Most claims of a
/// limited kind do not need it: when one shard of each limited kind has room for the whole claim,
/// no kind can be held back, so the claim locks that shard, walks `jobs_ready` as if there were no
/// limit, and subtracts from it what it took of the kind. Claims now ask `claimable_jobs`, which
/// does that and leaves everything else to migration 18's `ready_jobs` (kept as it is, so hosts
/// of the version before still claim): a pause, a rate, a limit lowered below what runs, extra
/// shards to use up, the host's own limits, or a kind without such a shard. Shards are locked
/// here only without waiting, and let go again before a claim goes to `ready_jobs`, whose slower
/// path waits for all of a kind's shards in order: a claim never waits holding one. What changes
/// between this function's statements (a pause or a rate set as it runs) holds from the next
/// claim, as a change during migration 18's walk did.
enum RoomToSpareMigration {
    static let migration = Migrations.Migration(
        version: 19, name: "claims with room to spare walk the queue as without limits",
        statements: [
            """
            CREATE FUNCTION {schema}.claimable_jobs(kinds text[], capabilities text[], wanted integer, local_room integer[])
            RETURNS TABLE (id uuid, kind text, counted boolean)
            LANGUAGE plpgsql VOLATILE SET enable_sort = off SET enable_bitmapscan = off SET jit = off
            SET plan_cache_mode = force_generic_plan AS $$
            #variable_conflict use_column
            DECLARE
                shaped boolean;
                counting boolean;
                limited text[];
                shards bigint[];
            BEGIN
                SELECT coalesce(bool_or(g.shaped), false), coalesce(bool_or(NOT g.shaped), false) INTO shaped, counting
                FROM (SELECT l.paused OR l.rate_jobs IS NOT NULL
                             OR EXISTS (SELECT FROM {schema}.kind_room AS r WHERE r.kind = l.kind AND (r.free < 0 OR r.shard > 8)) AS shaped
                      FROM {schema}.kind_limits AS l
                      WHERE l.kind = ANY(claimable_jobs.kinds) AND (l.paused OR l.max_concurrent IS NOT NULL OR l.rate_jobs IS NOT NULL)
                      UNION ALL
                      SELECT true FROM unnest(claimable_jobs.local_room) AS r (free) WHERE r.free >= 0) AS g;
                IF counting AND NOT shaped THEN
                    -- Of each limited kind, a regular shard no other claim holds with room for the
                    -- whole claim. Without one for every kind, the shards locked are let go (the
                    -- block's subtransaction rolls back) before `ready_jobs`, whose slower path
                    -- waits for shards in order, is asked: no claim waits holding one.
                    BEGIN
                        SELECT array_agg(l.kind), array_agg(s.shard) INTO limited, shards
                        FROM {schema}.kind_limits AS l
                        LEFT JOIN LATERAL (
                            SELECT s.shard FROM {schema}.kind_room AS s
                            WHERE s.kind = l.kind AND s.shard <= 8 AND s.free >= wanted
                            ORDER BY s.free DESC
                            LIMIT 1
                            FOR UPDATE SKIP LOCKED) AS s ON true
                        WHERE l.kind = ANY(claimable_jobs.kinds) AND l.max_concurrent IS NOT NULL;
                        IF array_position(shards, NULL) IS NOT NULL THEN
                            RAISE EXCEPTION 'no shard with room for the claim';
                        END IF;
                    EXCEPTION WHEN raise_exception THEN
                        shaped := true;
                    END;
                END IF;
                IF shaped THEN
                    RETURN QUERY SELECT r.id, r.kind, r.counted FROM {schema}.ready_jobs(claimable_jobs.kinds, claimable_jobs.capabilities, claimable_jobs.wanted, claimable_jobs.local_room) AS r;
                    RETURN;
                END IF;
                RETURN QUERY
                    WITH chosen AS MATERIALIZED (
                        SELECT j.id, j.kind, coalesce(j.kind = ANY(limited), false) AS counted FROM {schema}.jobs AS j
                        WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                          AND j.kind = ANY(claimable_jobs.kinds) AND j.capabilities <@ claimable_jobs.capabilities
                        ORDER BY j.rank, j.seq
                        LIMIT wanted
                        FOR UPDATE SKIP LOCKED
                    ), taken AS (
                        UPDATE {schema}.kind_room AS r SET free = r.free - t.n
                        FROM (SELECT c.kind, count(*)::int AS n FROM chosen AS c WHERE c.counted GROUP BY c.kind) AS t
                        JOIN unnest(limited, shards) AS h (kind, shard) ON h.kind = t.kind
                        WHERE r.kind = h.kind AND r.shard = h.shard
                    )
                    SELECT c.id, c.kind, c.counted FROM chosen AS c;
            END
            $$
            """
        ])
}
