/// Migration 15: finding jobs by a text in their payload (`GET /v1/jobs?q=`) through a trigram
/// index on the history, which holds nearly every job (an id prefix is read along the primary
/// key). `pg_trgm` ships with PostgreSQL
/// and is a trusted extension (a database owner may install it); where it cannot be installed
/// the migration says so and goes on, and the search reads the history without an index. The
/// extension goes in `public` where the queue's role may create there, else in the queue's
/// schema; the index uses it wherever it is.
enum SearchMigration {
    static let migration = Migrations.Migration(
        version: 15, name: "search by text",
        statements: [
            """
            DO $$
            BEGIN
                -- Queues of other schemas migrating at once: one installs it, the others wait
                -- for it (only while it is missing: a lock held to the end of each migration).
                IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
                    PERFORM pg_advisory_xact_lock(hashtext('offload.pg_trgm'));
                END IF;
                IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
                    BEGIN
                        -- In public where it may be, so that dropping a queue's schema leaves
                        -- the other queues' indexes; else in the queue's own.
                        CREATE EXTENSION pg_trgm SCHEMA public;
                    EXCEPTION WHEN OTHERS THEN
                        BEGIN
                            CREATE EXTENSION pg_trgm;
                        EXCEPTION WHEN OTHERS THEN
                            RAISE NOTICE 'pg_trgm could not be installed (%): jobs are searched by text without an index', SQLERRM;
                        END;
                    END;
                END IF;
            END
            $$
            """,
            """
            DO $$
            DECLARE
                home name := (SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
                              WHERE e.extname = 'pg_trgm');
            BEGIN
                IF home IS NOT NULL THEN
                    EXECUTE format('CREATE INDEX job_history_text ON {schema}.job_history USING gin ((payload::text) %I.gin_trgm_ops)', home);
                END IF;
            END
            $$
            """
        ])
}
