/// Migration 14: periodic jobs. A schedule keeps its expression, its zone and its job as the
/// columns a submission inserts; whichever host finds a tick due inserts its job and moves the
/// schedule's next tick in one statement, fenced by the tick it read (`next_run_at`): a host
/// that comes second finds the tick moved and inserts nothing, and a host that dies before its
/// statement commits leaves the tick due for the next one.
enum SchedulesMigration {
    static let migration = Migrations.Migration(
        version: 14, name: "periodic jobs",
        statements: [
            """
            CREATE TABLE {schema}.schedules (
                name text PRIMARY KEY,
                cron text NOT NULL,
                time_zone text NOT NULL,
                missed text NOT NULL CHECK (missed IN ('skip', 'runOnce')),
                paused boolean NOT NULL DEFAULT false,
                next_run_at timestamptz,
                last_run_at timestamptz,
                last_job_id uuid,
                kind text NOT NULL,
                priority smallint NOT NULL,
                payload json NOT NULL,
                max_attempts integer NOT NULL,
                retry_initial_ms double precision NOT NULL,
                retry_multiplier double precision NOT NULL,
                retry_max_ms double precision NOT NULL,
                retry_jitter double precision NOT NULL,
                timeout_ms bigint,
                capabilities text[] NOT NULL,
                tags text[] NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX schedules_due ON {schema}.schedules (next_run_at) WHERE NOT paused"
        ])
}
