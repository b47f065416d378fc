/// The queue's schema, as numbered migrations: each runs once, in order, in one transaction with
/// its version recorded in `SCHEMA.migrations`; hosts that start together take an advisory lock
/// so only one migrates. `{schema}` stands for the schema's name,
/// `{jobs}` for the channel that announces new jobs.
enum Migrations {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let all: [Migration] = [
        Migration(
            version: 1, name: "jobs, job events, notifications",
            statements: [
                """
                CREATE TYPE {schema}.job_state AS ENUM ('available', 'scheduled', 'running', 'completed', 'failed', 'cancelled')
                """,
                """
                CREATE TABLE {schema}.jobs (
                    id uuid PRIMARY KEY,
                    seq bigint GENERATED ALWAYS AS IDENTITY,
                    kind text NOT NULL,
                    priority smallint NOT NULL CHECK (priority BETWEEN 0 AND 3),
                    payload jsonb NOT NULL,
                    state {schema}.job_state NOT NULL,
                    attempt integer NOT NULL DEFAULT 0,
                    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
                    retry_initial_ms double precision NOT NULL,
                    retry_multiplier double precision NOT NULL,
                    retry_max_ms double precision NOT NULL,
                    retry_jitter double precision NOT NULL,
                    run_at timestamptz NOT NULL,
                    rank timestamptz NOT NULL,
                    timeout_ms bigint,
                    capabilities text[] NOT NULL DEFAULT '{}',
                    unique_key text,
                    lease_owner text,
                    lease_expires_at timestamptz,
                    cancel_requested boolean NOT NULL DEFAULT false,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    started_at timestamptz,
                    finished_at timestamptz,
                    result jsonb,
                    error_code text,
                    error_message text
                )
                """,
                // Claims walk this index in rank order.
                "CREATE INDEX jobs_ready ON {schema}.jobs (rank, seq) WHERE state IN ('available', 'scheduled')",
                "CREATE UNIQUE INDEX jobs_unique_key ON {schema}.jobs (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running')",
                "CREATE INDEX jobs_leases ON {schema}.jobs (lease_expires_at) WHERE state = 'running'",
                "CREATE INDEX jobs_finished ON {schema}.jobs (finished_at) WHERE state IN ('completed', 'cancelled')",
                "CREATE INDEX jobs_by_state ON {schema}.jobs (state, seq)",
                """
                CREATE TABLE {schema}.job_events (
                    job_id uuid NOT NULL REFERENCES {schema}.jobs (id) ON DELETE CASCADE,
                    seq bigint GENERATED ALWAYS AS IDENTITY,
                    at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    type text NOT NULL,
                    attempt integer,
                    host text,
                    message text,
                    PRIMARY KEY (job_id, seq)
                )
                """,
                // Every insert wakes the hosts, however it was made (a batch makes one notification).
                """
                CREATE FUNCTION {schema}.notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('{jobs}', '');
                    RETURN NULL;
                END
                $$
                """,
                "CREATE TRIGGER jobs_inserted AFTER INSERT ON {schema}.jobs FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_jobs()"
            ]),
        Migration(
            version: 2, name: "hosts and their heartbeats",
            statements: [
                """
                CREATE TABLE {schema}.hosts (
                    id text PRIMARY KEY,
                    started_at timestamptz NOT NULL DEFAULT now(),
                    heartbeat_at timestamptz NOT NULL DEFAULT now()
                )
                """
            ]),
        Migration(
            version: 3, name: "artifacts",
            statements: [
                """
                CREATE TABLE {schema}.artifacts (
                    sha256 bytea PRIMARY KEY CHECK (length(sha256) = 32),
                    content_type text NOT NULL,
                    size bigint NOT NULL,
                    data bytea NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE {schema}.job_artifacts (
                    job_id uuid NOT NULL REFERENCES {schema}.jobs (id) ON DELETE CASCADE,
                    sha256 bytea NOT NULL REFERENCES {schema}.artifacts (sha256),
                    name text NOT NULL,
                    PRIMARY KEY (job_id, sha256)
                )
                """,
                "CREATE INDEX job_artifacts_sha256 ON {schema}.job_artifacts (sha256)"
            ]),
        // The ready jobs in the queue's order, locked, always read along `jobs_ready`: on a table
        // that grew faster than its statistics (50,000 jobs in seconds), the planner would rather
        // sort every ready row on each claim (tens of milliseconds) than walk the index.
        Migration(
            version: 4, name: "claims walk the ready index",
            statements: [
                """
                CREATE FUNCTION {schema}.ready_jobs(kinds text[], capabilities text[], wanted integer) RETURNS SETOF uuid
                LANGUAGE sql VOLATILE SET enable_sort = off SET enable_bitmapscan = off AS $$
                    SELECT id FROM {schema}.jobs
                    WHERE state IN ('available', 'scheduled') AND run_at <= now()
                      AND kind = ANY(kinds) AND jobs.capabilities <@ ready_jobs.capabilities
                    ORDER BY rank, seq
                    LIMIT wanted
                    FOR UPDATE SKIP LOCKED
                $$
                """
            ]),
        // Lists newest first with a job as the cursor (`offload serve`'s GET /v1/jobs), and a
        // feed of changes read by event number (its dashboard's stream).
        Migration(
            version: 5, name: "lists and the change feed",
            statements: [
                "CREATE INDEX jobs_seq ON {schema}.jobs (seq)",
                "CREATE INDEX job_events_seq ON {schema}.job_events (seq)",
                // The cards `offload serve` drew, by their key, for any host to serve again.
                "CREATE INDEX jobs_completed_unique_key ON {schema}.jobs (unique_key, finished_at) WHERE unique_key IS NOT NULL AND state = 'completed'"
            ]),
        // Payloads and results as `json`, the text as it was written: `jsonb` cannot hold every
        // JSON value (`\u0000`, numbers past its range), and one it refused held back every other
        // end of its batch. The kinds and capabilities hosts serve, so that a job no host can run
        // is refused when it is submitted instead of waiting forever.
        Migration(
            version: 6, name: "every JSON value storable; what hosts serve",
            statements: [
                "ALTER TABLE {schema}.jobs ALTER COLUMN payload TYPE json USING payload::json, ALTER COLUMN result TYPE json USING result::json",
                "ALTER TABLE {schema}.hosts ADD COLUMN kinds text[], ADD COLUMN capabilities text[]"
            ]),
        // A job's history in the one vocabulary of the core's `JobEvent`: the code of the error
        // a step carries beside its message (rows written before keep "code: message"), the
        // fraction a progress step reports, and when a scheduled job or a retry is due.
        Migration(
            version: 7, name: "a job's steps as JobEvent has them",
            statements: [
                "ALTER TABLE {schema}.job_events ADD COLUMN error_code text, ADD COLUMN progress double precision, ADD COLUMN run_at timestamptz"
            ]),
        // The queue's two rules, each written once: the claim order of a ready job (Swift's
        // `QueueOrdering.rank`) and the wait before a retry (Swift's `RetryPolicy.delay`).
        Migration(
            version: 8, name: "the rank and the back-off as functions",
            statements: [
                """
                CREATE FUNCTION {schema}.job_rank(ready_at timestamptz, priority integer, level_ms double precision) RETURNS timestamptz
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                RETURN ready_at - priority * level_ms * interval '1 millisecond'
                """,
                """
                CREATE FUNCTION {schema}.retry_delay(initial_ms double precision, multiplier double precision, max_ms double precision,
                                                     jitter double precision, retry integer) RETURNS interval
                LANGUAGE sql VOLATILE PARALLEL SAFE
                RETURN greatest(least(initial_ms * power(greatest(multiplier, 1), greatest(retry - 1, 0)), max_ms)
                                * (1 + least(greatest(jitter, 0), 1) * (2 * random() - 1)), 0) * interval '1 millisecond'
                """
            ]),
        LeanQueue.migration,
        // The trace a job carries from its submitter to the host that runs it (a JSON object of
        // headers such as W3C traceparent; NULL when the submitter did not trace).
        Migration(version: 10, name: "a job's trace", statements: ["ALTER TABLE {schema}.jobs ADD COLUMN trace text"]),
        Migration(
            version: 11, name: "snoozed attempts in the history",
            statements: [
                "ALTER TABLE {schema}.job_history DROP CONSTRAINT job_history_state_check",
                """
                ALTER TABLE {schema}.job_history ADD CONSTRAINT job_history_state_check
                    CHECK (state IN ('completed', 'failed', 'cancelled', 'retryScheduled', 'snoozed', 'rescued'))
                """
            ]),
        // Tags to find jobs by: the history, which holds nearly every job, has a GIN index for
        // `tags @> ARRAY[tag]`; the live table stays as lean as claims need (its few rows are
        // filtered as they are read).
        Migration(
            version: 12, name: "a job's tags",
            statements: [
                "ALTER TABLE {schema}.jobs ADD COLUMN tags text[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE {schema}.job_history ADD COLUMN tags text[] NOT NULL DEFAULT '{}'",
                "CREATE INDEX job_history_tags ON {schema}.job_history USING gin (tags) WHERE ended"
            ]),
        KindLimitsMigration.migration,
        SchedulesMigration.migration,
        SearchMigration.migration,
        DependenciesMigration.state,
        DependenciesMigration.migration,
        KindRoomMigration.migration,
        RoomToSpareMigration.migration,
        // The tags' index holds only the jobs that have tags: most have none, and each cost the
        // index an entry (165 bytes of WAL a job of the queue suite, of 1,915) that no tag finds.
        // A listing by tag says `cardinality(tags) > 0`, which lets the planner use it.
        Migration(
            version: 20, name: "the tags index holds tagged jobs only",
            statements: [
                "DROP INDEX {schema}.job_history_tags",
                "CREATE INDEX job_history_tags ON {schema}.job_history USING gin (tags) WHERE ended AND cardinality(tags) > 0"
            ])
    ]

    /// The newest version.
    static var latest: Int { all.last?.version ?? 0 }
}
