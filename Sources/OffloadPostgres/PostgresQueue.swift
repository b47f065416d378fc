import Foundation
public import Logging
public import Offload
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// A durable job queue in PostgreSQL: jobs survive the processes that submit and run them, and
/// any number of hosts submit to it and serve it.
///
/// ```swift
/// let queue = try PostgresQueue(url: "postgres://app@localhost/app")
/// let server = QueueServer(queue: queue, pool: pool)
/// let group = ServiceGroup(services: [queue, pool, server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// A queue is a `Service`: while it runs it listens for notifications (new jobs, cancel requests,
/// finished jobs) on one connection of its own, and runs its pool of connections. Its schema
/// is brought up to date before its first statement unless ``PostgresQueueConfiguration/migratesOnStart``
/// is off (then run ``migrate()``, or `offload migrate`).
public final class PostgresQueue: DurableQueue, Service, Sendable {
    public let configuration: PostgresQueueConfiguration
    let client: PostgresClient
    private let listenerConfiguration: PostgresConnection.Configuration
    let logger: Logger
    let hub = NotificationHub()
    /// Signalled by notifications of new jobs (and by listening again after a loss).
    let workArrived = Wakeup()
    private let migration = Mutex<Task<Void, any Error>?>(nil)

    /// A queue at `url` (see ``QueueURL``), with a pool of connections of its own that
    /// ``run()`` runs. The URL's `schema` wins over the configuration's.
    public init(
        url: String, configuration: PostgresQueueConfiguration = PostgresQueueConfiguration(),
        logger: Logger = Logger(label: "offload.postgres")
    ) throws(OffloadError) {
        let address = try QueueURL(url)
        var configuration = configuration
        if let schema = address.schema { configuration.schema = schema }
        try configuration.validate()
        var client = address.client
        // Prepared statements name the queue's tables without their schema: each connection
        // finds them on its search path (PostgreSQL's own catalog comes first whatever it says).
        client.options.additionalStartupParameters.append(("search_path", configuration.schema))
        // Planned at each run, from the tables' size now: a generic plan made while `jobs` held a
        // few rows (a seq scan is cheapest then) was kept when it held 200,000, and each claim
        // and each batch of ends read the whole table (26 and 43 ms instead of 1 and 2).
        client.options.additionalStartupParameters.append(("plan_cache_mode", "force_custom_plan"))
        self.client = PostgresClient(configuration: client, backgroundLogger: logger)
        self.listenerConfiguration = address.listener
        self.configuration = configuration
        self.logger = logger
        let wake = workArrived
        _ = hub.subscribe { notification in
            switch notification {
            case .jobs, .listening: wake.signal()
            case .cancel, .done: break
            }
        }
    }

    // MARK: - Service

    /// Listens for the queue's notifications (and runs the queue's own client) until cancelled or
    /// shut down gracefully.
    public func run() async throws {
        let client = Task { await self.client.run() }
        await cancelWhenGracefulShutdown {
            await self.hub.listen(
                configuration: self.listenerConfiguration, channels: self.channels, followsEnds: self.configuration.followsEnds,
                logger: self.logger)
        }
        // The pool closes its connections once each is returned; one held by a statement the
        // database never answered would hold the queue's stop forever, so it is left behind.
        client.cancel()
        do { try await withDeadline(.seconds(5)) { await client.value } } catch {
            logger.warning("the queue's connections did not all close within 5 s; leaving them")
        }
    }

    /// The notification channels: new jobs, cancel requests, finished jobs.
    var channels: NotificationHub.Channels {
        NotificationHub.Channels(
            jobs: "\(configuration.schema)_jobs", cancel: "\(configuration.schema)_cancel",
            done: "\(configuration.schema)_done")
    }

    // MARK: - Schema

    /// Brings the schema up to date: each migration not yet recorded runs once, in order, in
    /// one transaction, under an advisory lock (hosts starting together do not race).
    /// - Returns: the versions applied now (empty when the schema was up to date).
    @discardableResult
    public func migrate() async throws -> [Int] { try await migrate(upTo: Migrations.latest) }

    /// Applies the migrations up to `version` (a test builds a schema as an older Offload left it).
    func migrate(upTo version: Int) async throws -> [Int] {
        try await transaction { [self] connection -> [Int] in
            let schema = configuration.schema
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\("offload.migrate." + schema)))", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: sql("CREATE SCHEMA IF NOT EXISTS {schema}")), logger: logger)
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: sql(
                        """
                        CREATE TABLE IF NOT EXISTS {schema}.migrations (
                            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                        """)), logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query(
                PostgresQuery(unsafeSQL: sql("SELECT version FROM {schema}.migrations")),
                logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            if let newest = applied.max(), newest > Migrations.latest {
                throw OffloadError(
                    .invalidConfiguration,
                    "the queue's schema \(schema) is at version \(newest), newer than this Offload knows (\(Migrations.latest)); upgrade Offload on this host"
                )
            }
            var now: [Int] = []
            for migration in Migrations.all where !applied.contains(migration.version) && migration.version <= version {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: sql(statement)), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO \(unescaped: s).migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                now.append(migration.version)
            }
            return now
        }
    }

    /// Returns once the database answers a statement (no migration waited for).
    public func ping() async throws {
        for try await _ in try await query("SELECT 1", logger: logger).decode(Int.self) {}
    }

    /// The newest migration recorded in the database (0 for none).
    public func schemaVersion() async throws -> Int {
        try await prepared()
        let rows = try await query("SELECT coalesce(max(version), 0) FROM \(unescaped: s).migrations", logger: logger)
        var newest = 0
        for try await version in rows.decode(Int.self) { newest = version }
        return newest
    }

    /// Waits for the schema to be up to date when the queue migrates on start (once per queue;
    /// a failed migration is tried again by the next statement).
    func prepared() async throws {
        guard configuration.migratesOnStart else { return }
        let task = migration.withLock { task -> Task<Void, any Error> in
            if let task { return task }
            let made = Task { _ = try await self.migrate() }
            task = made
            return made
        }
        do { try await task.value } catch {
            migration.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    // MARK: - SQL

    /// `template` with `{schema}` and the channel names filled in (the schema is validated: it
    /// is never a user's input).
    func sql(_ template: String) -> String {
        let channels = self.channels
        return
            template
            .replacingOccurrences(of: "{schema}", with: "\"\(configuration.schema)\"")
            .replacingOccurrences(of: "{jobs}", with: channels.jobs)
            .replacingOccurrences(of: "{cancel}", with: channels.cancel)
            .replacingOccurrences(of: "{done}", with: channels.done)
    }

    /// The schema's name as SQL, for `\(unescaped: s)` in statements.
    var s: String { "\"\(configuration.schema)\"" }
}
