extension KindRoomMigration {
    /// The jobs a claim takes (migration 13's, with a limit on running jobs kept by counters),
    /// each with its kind and whether it counts against its kind's limit (its place is taken
    /// here; the claim gives back those of jobs it could not take). Three paths, by what holds
    /// the kinds asked for back: nothing (one walk of `jobs_ready` in the queue's order); a limit
    /// on running jobs, a pause or a host's own limits (one statement: one or two shards of room
    /// locked per limited kind, each kind along its own range of `jobs_ready_by_kind`); a rate
    /// or a limit lowered below what runs (a loop over the kinds, which locks all of a limited
    /// kind's shards and the rate's row).
    ///
    /// Each kind is walked as a range of one value, not an equality, and the order starts with
    /// it: an equality makes it a constant, and then a plan may walk `jobs_ready` past every job
    /// of a held kind's backlog to find a kind that has none (one did, 200 ms a claim behind
    /// 40,000 jobs, once the table's statistics said most were of one kind). The plans are
    /// generic: none depends on the arguments' values, and planning the one-statement path
    /// afresh at each call cost more than running it (1.9 ms a claim of 32 jobs against 1.4).
    static let readyJobs = """
        CREATE FUNCTION {schema}.ready_jobs(kinds text[], capabilities text[], wanted integer, local_room integer[])
        RETURNS TABLE (id uuid, kind text, counted boolean)
        LANGUAGE plpgsql VOLATILE SET enable_sort = off SET enable_bitmapscan = off SET jit = off
        SET plan_cache_mode = force_generic_plan AS $$
        #variable_conflict use_column
        DECLARE
            held boolean;
            slow boolean;
            limited record;
            room integer;
            queue_room integer;
            counting boolean;
            ids uuid[] := '{}';
            ranks timestamptz[] := '{}';
            seqs bigint[] := '{}';
            of_kind text[] := '{}';
            counts boolean[] := '{}';
            chosen_kinds text[];
            chosen_counts boolean[];
        BEGIN
            SELECT bool_or(true), bool_or(g.slow) INTO held, slow
            FROM (SELECT l.rate_jobs IS NOT NULL
                         OR (l.max_concurrent IS NOT NULL
                             AND EXISTS (SELECT FROM {schema}.kind_room AS r WHERE r.kind = l.kind AND r.free < 0)) AS slow
                  FROM {schema}.kind_limits AS l
                  WHERE l.kind = ANY(ready_jobs.kinds) AND (l.paused OR l.max_concurrent IS NOT NULL OR l.rate_jobs IS NOT NULL)
                  UNION ALL
                  SELECT false FROM unnest(ready_jobs.local_room) AS r (free) WHERE r.free >= 0) AS g;
            IF held IS NULL THEN
                RETURN QUERY
                    SELECT j.id, j.kind, false FROM {schema}.jobs AS j
                    WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                      AND j.kind = ANY(ready_jobs.kinds) AND j.capabilities <@ ready_jobs.capabilities
                    ORDER BY j.rank, j.seq
                    LIMIT wanted
                    FOR UPDATE SKIP LOCKED;
                RETURN;
            END IF;
            IF NOT slow THEN
                RETURN QUERY
                    WITH asked AS MATERIALIZED (
                        SELECT u.kind, l.max_concurrent IS NOT NULL AS counted,
                               CASE WHEN coalesce(l.paused, false) THEN 0 WHEN u.free >= 0 THEN least(wanted, u.free) ELSE wanted END AS room
                        FROM unnest(ready_jobs.kinds, ready_jobs.local_room) AS u (kind, free)
                        LEFT JOIN {schema}.kind_limits AS l ON l.kind = u.kind
                    ), shard AS MATERIALIZED (
                        -- Of each limited kind, the shards no other claim holds that have the most
                        -- room (an extra one first, so that extras are used up), as many as the
                        -- claim's room needs at their average, one or two (two claims at once
                        -- find room), each with the room up to and including it.
                        SELECT s.kind, s.shard, s.free,
                               sum(s.free) OVER (PARTITION BY s.kind ORDER BY s.shard > 8 DESC, s.free DESC, s.shard) AS upto
                        FROM asked AS a
                        CROSS JOIN LATERAL (
                            SELECT s.kind, s.shard, s.free FROM {schema}.kind_room AS s
                            WHERE s.kind = a.kind AND s.free > 0
                            ORDER BY s.shard > 8 DESC, s.free DESC
                            LIMIT (SELECT least(2, ceil(a.room / greatest(avg(f.free), 1)))::int
                                   FROM {schema}.kind_room AS f WHERE f.kind = a.kind AND f.free > 0)
                            FOR UPDATE SKIP LOCKED) AS s
                        WHERE a.counted AND a.room > 0
                    ), open AS (
                        SELECT a.kind, a.counted, CASE WHEN a.counted THEN least(a.room, s.free)::int ELSE a.room END AS room
                        FROM asked AS a LEFT JOIN (SELECT s.kind, sum(s.free) AS free FROM shard AS s GROUP BY s.kind) AS s ON s.kind = a.kind
                        WHERE a.room > 0 AND (NOT a.counted OR s.kind IS NOT NULL)
                    ), chosen AS MATERIALIZED (
                        SELECT c.id, c.kind, c.counted
                        FROM (SELECT o.id, o.rank, o.seq, o.kind, k.counted
                              FROM open AS k
                              CROSS JOIN LATERAL (
                                  SELECT j.id, j.rank, j.seq, j.kind FROM {schema}.jobs AS j
                                  WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                                    AND j.kind >= k.kind AND j.kind <= k.kind AND j.capabilities <@ ready_jobs.capabilities
                                  ORDER BY j.kind, j.rank, j.seq
                                  LIMIT k.room
                                  FOR UPDATE SKIP LOCKED) AS o) AS c
                        ORDER BY c.rank, c.seq
                        LIMIT wanted
                    ), took AS (
                        -- What each locked shard gives, in the order it was picked.
                        SELECT s.kind, s.shard, least(s.free, t.n - (s.upto - s.free)) AS n, s.free
                        FROM (SELECT c.kind, count(*)::int AS n FROM chosen AS c WHERE c.counted GROUP BY c.kind) AS t
                        JOIN shard AS s ON s.kind = t.kind AND t.n > s.upto - s.free
                    ), taken AS (
                        UPDATE {schema}.kind_room AS r SET free = r.free - t.n
                        FROM took AS t
                        WHERE r.kind = t.kind AND r.shard = t.shard AND NOT (t.shard > 8 AND t.n = t.free)
                    ), emptied AS (
                        -- An extra shard used up goes.
                        DELETE FROM {schema}.kind_room AS r USING took AS t
                        WHERE r.kind = t.kind AND r.shard = t.shard AND t.shard > 8 AND t.n = t.free
                    )
                    SELECT c.id, c.kind, c.counted FROM chosen AS c;
                RETURN;
            END IF;
            FOR limited IN
                SELECT u.kind, u.free, coalesce(l.paused, false) AS paused, l.max_concurrent, l.rate_jobs
                FROM unnest(ready_jobs.kinds, ready_jobs.local_room) AS u (kind, free)
                LEFT JOIN {schema}.kind_limits AS l ON l.kind = u.kind
                ORDER BY u.kind
            LOOP
                room := CASE WHEN limited.paused THEN 0 WHEN limited.free >= 0 THEN least(wanted, limited.free) ELSE wanted END;
                IF room > 0 AND limited.rate_jobs IS NOT NULL THEN
                    -- A rate: the kind's row, locked until the claim commits (the next claim of the
                    -- kind waits here), read again after the lock.
                    SELECT CASE WHEN l.paused THEN 0 ELSE coalesce(
                               floor(extract(epoch FROM now() - {schema}.rate_due(l.rate_next_start, l.rate_interval_ms, l.rate_jobs)) * 1000
                                     / (l.rate_interval_ms / l.rate_jobs))::int + 1, wanted) END
                    INTO queue_room
                    FROM {schema}.kind_limits AS l WHERE l.kind = limited.kind FOR UPDATE;
                    room := least(room, coalesce(queue_room, 0));
                END IF;
                counting := limited.max_concurrent IS NOT NULL;
                IF counting THEN
                    -- All of its shards, locked in the kinds' order (even with no room here: they
                    -- are spread again below): their sum is what may start.
                    SELECT least(room, greatest(coalesce(sum(s.free), 0), 0))::int INTO room
                    FROM (SELECT s.free FROM {schema}.kind_room AS s WHERE s.kind = limited.kind ORDER BY s.shard FOR UPDATE) AS s;
                END IF;
                IF room > 0 THEN
                    SELECT ids || coalesce(array_agg(c.id), '{}'), ranks || coalesce(array_agg(c.rank), '{}'),
                           seqs || coalesce(array_agg(c.seq), '{}'), of_kind || coalesce(array_agg(c.kind), '{}'),
                           counts || coalesce(array_agg(counting), '{}')
                    INTO ids, ranks, seqs, of_kind, counts
                    FROM (SELECT j.id, j.rank, j.seq, j.kind FROM {schema}.jobs AS j
                          WHERE j.state IN ('available', 'scheduled') AND j.run_at <= now()
                            AND j.kind >= limited.kind AND j.kind <= limited.kind
                            AND j.capabilities <@ ready_jobs.capabilities
                          ORDER BY j.kind, j.rank, j.seq
                          LIMIT room
                          FOR UPDATE SKIP LOCKED) AS c;
                END IF;
            END LOOP;
            SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.kind), '{}'), coalesce(array_agg(c.counted), '{}')
            INTO ids, chosen_kinds, chosen_counts
            FROM (SELECT u.id, u.kind, u.counted FROM unnest(ids, ranks, seqs, of_kind, counts) AS u (id, rank, seq, kind, counted)
                  ORDER BY u.rank, u.seq LIMIT wanted) AS c;
            UPDATE {schema}.kind_limits AS l
            SET rate_next_start = {schema}.rate_due(l.rate_next_start, l.rate_interval_ms, l.rate_jobs)
                                  + n.taken * (l.rate_interval_ms / l.rate_jobs) * interval '1 millisecond'
            FROM (SELECT t.kind, count(*) AS taken FROM unnest(chosen_kinds) AS t (kind) GROUP BY t.kind) AS n
            WHERE l.kind = n.kind AND l.rate_jobs IS NOT NULL;
            -- The room of each limited kind, less what was taken of it, spread over its shards
            -- again (which also folds a negative shard into the others).
            PERFORM {schema}.spread_room(l.kind, NULL, coalesce(n.taken, 0), NULL)
            FROM unnest(ready_jobs.kinds) AS k (kind)
            JOIN {schema}.kind_limits AS l ON l.kind = k.kind AND l.max_concurrent IS NOT NULL
            LEFT JOIN (SELECT t.kind, count(*)::int AS taken FROM unnest(chosen_kinds, chosen_counts) AS t (kind, counted)
                       WHERE t.counted GROUP BY t.kind) AS n ON n.kind = l.kind
            ORDER BY l.kind;
            RETURN QUERY SELECT c.id, c.kind, c.counted FROM unnest(ids, chosen_kinds, chosen_counts) AS c (id, kind, counted);
        END
        $$
        """
}
