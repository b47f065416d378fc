/// Migration 18: a limit on running jobs kept by counters, so that the claims of a limited kind
/// neither wait for each other nor write a row per job.
///
/// Migration 13 kept `maxConcurrent` by locking the kind's `kind_limits` row until the claim
/// committed and counting what ran: every claim of the kind, on every host, waited for the one
/// before it. Now the room a kind limited to N has left is kept in a few counters
/// (`kind_room`: a shard per 32 places, one to four, and more for a moment when all are held),
/// whose sum is N less the kind's running jobs that count (`jobs.counted`). Room is fungible,
/// so:
/// - a claim locks the shards with the most room that it needs, one or two (`FOR UPDATE SKIP
///   LOCKED`, as it locks jobs: two hosts lock different shards and neither waits), takes up to
///   their room, and subtracts what it took: a write or two a claim, not one a job;
/// - whatever takes counted jobs out of `running` gives their room back to any shard no one
///   holds (the least full), or to a new shard when all are held: a batch of ends gives once
///   per kind, through migration 17's trigger on the statement that deletes them; a retry,
///   snooze, hand-back or rescue through a trigger on the row that costs nothing to uncounted
///   jobs. A give never waits for a lock, so no end waits for a claim or a change of limits.
///
/// Setting a limit (`fit_room`) counts what runs of the kind, which keeps it consistent after
/// anything that bypassed the triggers (a TRUNCATE). A limit lowered below what runs leaves the
/// room negative: nothing of the kind starts until enough of its jobs end. Claims of a kind in
/// that state, or with a rate, take the slower path that locks all of its shards. A rate still
/// serialises its kind's claims on the `kind_limits` row: its next start is one value all hosts
/// move.
enum KindRoomMigration {
    static let migration = Migrations.Migration(
        version: 18, name: "limits on running jobs kept by counters",
        statements: [
            """
            CREATE TABLE {schema}.kind_room (
                kind text NOT NULL,
                shard bigint NOT NULL,
                free integer NOT NULL,
                PRIMARY KEY (kind, shard)
            ) WITH (fillfactor = 50)
            """,
            // Shards made when all of a kind's are held: numbered after the (at most four) regular ones.
            "CREATE SEQUENCE {schema}.kind_room_extra START 9",
            "ALTER TABLE {schema}.jobs ADD COLUMN counted boolean NOT NULL DEFAULT false",
            // Gives `n` places of `give_kind` back, to whichever of its shards no one holds, or to a
            // new one: it never waits. Nothing when the kind has no limit. Wakes the hosts when
            // the kind had no room left.
            """
            CREATE FUNCTION {schema}.give_room(give_kind text, n integer) RETURNS void LANGUAGE plpgsql
            SET plan_cache_mode = force_generic_plan AS $$
            BEGIN
                UPDATE {schema}.kind_room AS r SET free = r.free + n
                FROM (SELECT s.shard FROM {schema}.kind_room AS s WHERE s.kind = give_kind
                      ORDER BY s.free LIMIT 1 FOR UPDATE SKIP LOCKED) AS t
                WHERE r.kind = give_kind AND r.shard = t.shard;
                IF NOT FOUND THEN
                    IF NOT EXISTS (SELECT FROM {schema}.kind_room AS s WHERE s.kind = give_kind) THEN
                        RETURN;
                    END IF;
                    INSERT INTO {schema}.kind_room (kind, shard, free) VALUES (give_kind, nextval('{schema}.kind_room_extra'), n);
                END IF;
                -- The kind had no room left: the hosts waiting for some hear (as far as this
                -- transaction sees; they look again on their own soon enough).
                IF (SELECT sum(s.free) FROM {schema}.kind_room AS s WHERE s.kind = give_kind) <= n THEN
                    PERFORM pg_notify('{jobs}', '');
                END IF;
            END
            $$
            """,
            // Locks every shard of `fit_kind` (in order) and spreads `total` places over its
            // regular shards (`shards` of them, or as many as it has; a negative total on the
            // first), folding the other shards it locked into them; `total` NULL: the room they
            // hold now, less `minus`. Shards made after the lock hold places given back since,
            // and are kept.
            """
            CREATE FUNCTION {schema}.spread_room(fit_kind text, total integer, minus integer, shards integer)
            RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                held bigint[];
                room integer;
                regular integer;
            BEGIN
                SELECT coalesce(array_agg(s.shard), '{}'), coalesce(sum(s.free), 0)::int, count(*) FILTER (WHERE s.shard <= 8)
                INTO held, room, regular
                FROM (SELECT s.shard, s.free FROM {schema}.kind_room AS s WHERE s.kind = fit_kind ORDER BY s.shard FOR UPDATE) AS s;
                regular := coalesce(shards, regular);
                IF regular = 0 THEN
                    RETURN;
                END IF;
                room := coalesce(total, room) - minus;
                DELETE FROM {schema}.kind_room AS s WHERE s.kind = fit_kind AND s.shard > regular AND s.shard = ANY(held);
                UPDATE {schema}.kind_room AS s
                SET free = CASE WHEN room < 0 THEN CASE WHEN s.shard = 1 THEN room ELSE 0 END
                                ELSE room / regular + CASE WHEN s.shard <= room % regular THEN 1 ELSE 0 END END
                WHERE s.kind = fit_kind AND s.shard <= regular;
            END
            $$
            """,
            // The room of `fit_kind` made to fit a new limit `most` (NULL: none), in a shard per 32
            // places (one to four). Its shards are locked first (claims of the kind take
            // nothing meanwhile), then its running jobs (each one's end waits; ends under way
            // finish first), which all count from now on.
            """
            CREATE FUNCTION {schema}.fit_room(fit_kind text, most integer) RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                running integer;
                shards integer;
            BEGIN
                IF most IS NULL THEN
                    DELETE FROM {schema}.kind_room AS s WHERE s.kind = fit_kind;
                    RETURN;
                END IF;
                shards := least(4, greatest(1, most / 32));
                INSERT INTO {schema}.kind_room (kind, shard, free)
                SELECT fit_kind, n, 0 FROM generate_series(1, shards) AS n
                ON CONFLICT DO NOTHING;
                PERFORM FROM {schema}.kind_room AS s WHERE s.kind = fit_kind ORDER BY s.shard FOR UPDATE;
                WITH marked AS (
                    UPDATE {schema}.jobs AS j SET counted = true
                    WHERE j.kind = fit_kind AND j.state = 'running'
                    RETURNING 1
                )
                SELECT count(*) INTO running FROM marked;
                PERFORM {schema}.spread_room(fit_kind, most - running, 0, shards);
            END
            $$
            """,
            """
            CREATE FUNCTION {schema}.room_given_back() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM {schema}.give_room(OLD.kind, 1);
                NEW.counted := false;
                RETURN NEW;
            END
            $$
            """,
            """
            CREATE TRIGGER jobs_room_given_back BEFORE UPDATE OF state ON {schema}.jobs
            FOR EACH ROW WHEN (OLD.counted AND NEW.state <> 'running') EXECUTE FUNCTION {schema}.room_given_back()
            """,
            // Rows that leave `jobs` give their room back once per statement and kind (a host's
            // batch of ends is one statement), beside migration 17's release of their dependents.
            """
            CREATE OR REPLACE FUNCTION {schema}.jobs_left() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                ended uuid[];
                completed boolean[];
            BEGIN
                IF coalesce(current_setting('offload.releasing', true), 'off') = 'on' THEN
                    RETURN NULL;  -- waiting jobs a failure cancelled: none ran, none has dependents left
                END IF;
                PERFORM {schema}.give_room(c.kind, c.n)
                FROM (SELECT g.kind, count(*)::int AS n FROM gone AS g WHERE g.counted GROUP BY g.kind ORDER BY g.kind) AS c;
                SELECT array_agg(g.id), array_agg(coalesce(h.ok, false)) INTO ended, completed
                FROM gone AS g
                LEFT JOIN LATERAL (SELECT x.state = 'completed' AS ok FROM {schema}.job_history AS x
                                   WHERE x.job_id = g.id AND x.ended ORDER BY x.seq DESC LIMIT 1) AS h ON true
                WHERE g.has_dependents;
                IF ended IS NOT NULL THEN
                    PERFORM {schema}.release_dependents(ended, completed);
                END IF;
                RETURN NULL;
            END
            $$
            """,
            "SELECT {schema}.fit_room(kind, max_concurrent) FROM {schema}.kind_limits WHERE max_concurrent IS NOT NULL",
            "DROP FUNCTION {schema}.ready_jobs(text[], text[], integer, integer[])",
            readyJobs
        ])
}
