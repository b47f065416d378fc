/// Migrations 16 and 17: jobs that run after others (`Job.dependsOn`).
///
/// A dependent job waits in `jobs` in the state `waiting`, out of every index claims walk (they
/// are partial on the ready states), with the count of its dependencies not ended yet. Its edges
/// are rows of `job_dependencies`, kept with its history for its view. A job others depend on is
/// marked `has_dependents`; when such rows leave `jobs` (their end: a finish, a cancel, an
/// upkeep that fails them), a trigger on the statement releases their dependents together —
/// each dependent updated once, those they were the last for made ready — and, for those that
/// did not complete, cancels every waiting descendant that does not run anyway, level by level.
/// A claim never reads an edge; a statement whose jobs have no dependents costs the trigger's
/// look at the rows it deleted.
///
/// The new state is added by a migration of its own: a value added to an enum cannot be used in
/// the transaction that adds it.
enum DependenciesMigration {
    static let state = Migrations.Migration(
        version: 16, name: "a state for jobs that wait for others",
        statements: ["ALTER TYPE {schema}.job_state ADD VALUE IF NOT EXISTS 'waiting' BEFORE 'available'"])

    static let migration = Migrations.Migration(
        version: 17, name: "jobs that run after others",
        statements: [
            """
            ALTER TABLE {schema}.jobs ADD COLUMN waiting_for integer NOT NULL DEFAULT 0,
                                      ADD COLUMN has_dependents boolean NOT NULL DEFAULT false
            """,
            """
            CREATE TABLE {schema}.job_dependencies (
                job_id uuid NOT NULL,
                depends_on uuid NOT NULL,
                position integer NOT NULL,
                runs_after_failure boolean NOT NULL,
                PRIMARY KEY (job_id, depends_on)
            )
            """,
            "CREATE INDEX job_dependencies_depends_on ON {schema}.job_dependencies (depends_on)",
            // The jobs `ended_ids` left the live table, each completed or not (`ended_ok`). `among`: the only
            // dependents of theirs to consider (a new batch whose dependencies had ended before it
            // came); NULL for all.
            """
            CREATE FUNCTION {schema}.release_dependents(ended_ids uuid[], ended_ok boolean[], among uuid[] DEFAULT NULL)
            RETURNS void
            LANGUAGE plpgsql VOLATILE SET jit = off AS $$
            DECLARE
                done uuid[] := ARRAY(SELECT e.id FROM unnest(ended_ids, ended_ok) AS e (id, ok) WHERE e.ok);
                failed uuid[] := ARRAY(SELECT e.id FROM unnest(ended_ids, ended_ok) AS e (id, ok) WHERE NOT e.ok);
                frontier uuid[] := failed;
                first boolean := true;
                level uuid[];
                doomed uuid[] := '{}';
                released integer;
            BEGIN
                -- The cancels below delete rows whose own trigger must not run again: this
                -- function handles their dependents.
                PERFORM set_config('offload.releasing', 'on', true);
                -- Level by level, each read by a statement of its own: a dependent whose edge a
                -- submission committed while this waited for a row's lock is seen by the next.
                WHILE cardinality(frontier) > 0 LOOP
                    WITH chosen AS (
                        SELECT DISTINCT ON (d.job_id) d.job_id AS id, d.depends_on AS cause
                        FROM {schema}.job_dependencies AS d
                        JOIN {schema}.jobs AS j ON j.id = d.job_id AND j.state = 'waiting'
                        WHERE d.depends_on = ANY(frontier) AND NOT d.runs_after_failure
                          AND (among IS NULL OR NOT first OR d.job_id = ANY(among))
                        ORDER BY d.job_id, d.depends_on
                    ), gone AS (
                        DELETE FROM {schema}.jobs AS job USING chosen AS c WHERE job.id = c.id AND job.state = 'waiting'
                        RETURNING job.*, c.cause
                    ), history AS (
                        INSERT INTO {schema}.job_history (\(HistoryRow.columns))
                        SELECT id, attempt, 'cancelled', true, NULL, NULL, now(), run_at, NULL, 'dependencyFailed',
                               'job ' || cause || ', which it depends on, failed or was cancelled', NULL, \(HistoryRow.job("gone"))
                        FROM gone
                    )
                    SELECT coalesce(array_agg(id), '{}') INTO level FROM gone;
                    PERFORM pg_notify('{done}', id::text) FROM unnest(level) AS id;
                    doomed := doomed || level;
                    frontier := level;
                    first := false;
                END LOOP;
                -- One dependency fewer for each dependent left, as many as its dependencies that
                -- ended here: those that completed, and those that did not, for a dependent that
                -- runs anyway (of the jobs cancelled above too). Each dependent is updated once.
                WITH summed AS (
                    -- One walk of the index on `depends_on` for all of them.
                    SELECT d.job_id, count(*)::int AS n FROM {schema}.job_dependencies AS d
                    WHERE d.depends_on = ANY(done || failed || doomed)
                      AND (d.depends_on = ANY(done) OR d.runs_after_failure)
                      AND (among IS NULL OR d.job_id = ANY(among) OR d.depends_on = ANY(doomed))
                    GROUP BY d.job_id
                ), moved AS (
                    UPDATE {schema}.jobs AS job
                    SET waiting_for = job.waiting_for - c.n,
                        state = (CASE WHEN job.waiting_for > c.n THEN 'waiting'
                                      WHEN job.run_at > now() THEN 'scheduled' ELSE 'available' END)::{schema}.job_state,
                        run_at = CASE WHEN job.waiting_for > c.n THEN job.run_at ELSE greatest(job.run_at, now()) END,
                        -- Ready from now, its priority's lead kept: the rank moves as its time does.
                        rank = CASE WHEN job.waiting_for > c.n THEN job.rank
                                    ELSE job.rank + (greatest(job.run_at, now()) - job.run_at) END,
                        changed = nextval('{schema}.changes')
                    FROM summed AS c
                    WHERE job.id = c.job_id AND job.state = 'waiting'
                    RETURNING job.id, job.state
                ), steps AS (
                    INSERT INTO {schema}.job_steps (job_id, type) SELECT id, 'queued' FROM moved WHERE state <> 'waiting'
                    RETURNING job_id
                )
                SELECT count(*) INTO released FROM steps;
                IF released > 0 THEN
                    PERFORM pg_notify('{jobs}', '');
                END IF;
                PERFORM set_config('offload.releasing', 'off', true);
            END
            $$
            """,
            // Once per statement that deletes jobs: its rows that others depend on, with how each
            // ended (its history's end, written by the same statement).
            """
            CREATE FUNCTION {schema}.jobs_left() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                ended uuid[];
                completed boolean[];
            BEGIN
                IF coalesce(current_setting('offload.releasing', true), 'off') = 'on' THEN
                    RETURN NULL;
                END IF;
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
            """
            CREATE TRIGGER jobs_left AFTER DELETE ON {schema}.jobs REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.jobs_left()
            """
        ])
}
