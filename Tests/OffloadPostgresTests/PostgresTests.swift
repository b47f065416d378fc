import Testing

/// Every test of the durable queue runs inside this suite, which starts one real PostgreSQL
/// server for them all and stops it after.
@Suite(.postgresServer, .timeLimit(.minutes(3))) struct PostgresTests {}
