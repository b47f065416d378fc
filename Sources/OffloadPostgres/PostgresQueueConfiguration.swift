public import Offload
public import Tracing

/// How a ``PostgresQueue`` keeps and hands out jobs.
public struct PostgresQueueConfiguration: Sendable {
    /// The PostgreSQL schema that holds the queue's tables (default `offload`): lower-case
    /// letters, digits and `_`, starting with a letter or `_`, at most 48 characters; not
    /// `public`, `information_schema` or `pg_…`.
    public var schema: String
    /// The order in which jobs are claimed: by priority with aging (the in-memory queue's rule),
    /// or first in, first out.
    public var ordering: QueueOrdering
    /// The wait that raises a ready job by one priority level; `nil`: no aging.
    public var agingInterval: Duration?
    /// How long a claim holds without a heartbeat; a job whose lease expires is rescued.
    public var leaseDuration: Duration
    /// How long completed and cancelled jobs are kept; failed ones are kept until retried or deleted.
    public var retention: Duration
    /// Whether the queue brings its schema up to date when it starts (`offload migrate` does it
    /// on demand).
    public var migratesOnStart: Bool
    /// The largest payload a job may carry, in bytes of JSON.
    public var maxPayloadBytes: Int
    /// The largest file a job may leave as an artifact, in bytes.
    public var maxArtifactBytes: Int
    /// How long a statement may go unanswered before it is given up on (and tried again by its
    /// caller), so that a connection the driver does not know is lost never holds a host.
    public var statementTimeout: Duration
    /// Whether the queue follows the notifications of ended jobs, which
    /// ``PostgresQueue/finished(_:timeout:)`` is woken by (default `true`). A process that only
    /// serves the queue (`offload worker`) turns it off: one listener less for the database to
    /// tell of every batch of ends, none of them to read. Without it, `finished` looks every 5 s.
    public var followsEnds = true
    /// The tracer of `offload.submit` spans, whose headers a job keeps in the queue for the host
    /// that runs it; `nil` (default) for the one bootstrapped in `InstrumentationSystem`, if any.
    public var tracer: (any Tracer)?

    public init(
        schema: String = "offload", ordering: QueueOrdering = .priority, agingInterval: Duration? = .seconds(10),
        leaseDuration: Duration = .seconds(30), retention: Duration = .seconds(24 * 3600), migratesOnStart: Bool = true,
        maxPayloadBytes: Int = 16 << 20, maxArtifactBytes: Int = 64 << 20,
        statementTimeout: Duration = .seconds(30)
    ) {
        self.schema = schema
        self.ordering = ordering
        self.agingInterval = agingInterval
        self.leaseDuration = leaseDuration
        self.retention = retention
        self.migratesOnStart = migratesOnStart
        self.maxPayloadBytes = maxPayloadBytes
        self.maxArtifactBytes = maxArtifactBytes
        self.statementTimeout = statementTimeout
    }

    /// Refuses a configuration the queue cannot use, naming the setting.
    /// - Throws: ``OffloadError/Code/invalidConfiguration``.
    public func validate() throws(OffloadError) {
        let allowed = schema.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
        guard !schema.isEmpty, schema.utf8.count <= 48, allowed, let first = schema.utf8.first, !(0x30...0x39).contains(first) else {
            throw OffloadError(.invalidConfiguration, "schema must be 1 to 48 lower-case letters, digits or '_', not starting with a digit")
        }
        // The queue's tables and functions get a schema of their own, not one others own or write to.
        if schema == "public" || schema == "information_schema" || schema.hasPrefix("pg_") {
            throw OffloadError(
                .invalidConfiguration,
                "schema '\(schema)' belongs to PostgreSQL or to the database's own tables; give the queue a schema of its own (default offload)")
        }
        if let agingInterval, agingInterval <= .zero { throw OffloadError(.invalidConfiguration, "agingInterval must be positive") }
        if leaseDuration < .seconds(1) { throw OffloadError(.invalidConfiguration, "leaseDuration must be at least 1 s") }
        if retention < .zero { throw OffloadError(.invalidConfiguration, "retention must not be negative") }
        if maxPayloadBytes < 1 { throw OffloadError(.invalidConfiguration, "maxPayloadBytes must be at least 1") }
        if statementTimeout < .milliseconds(100) { throw OffloadError(.invalidConfiguration, "statementTimeout must be at least 100 ms") }
        if !(1...(1 << 30)).contains(maxArtifactBytes) { throw OffloadError(.invalidConfiguration, "maxArtifactBytes must be 1 to 1 GiB") }
    }

    /// What one priority level is worth in the claim order, in milliseconds
    /// (``QueueOrdering/level(agingInterval:)``).
    var levelMilliseconds: Double { ordering.level(agingInterval: agingInterval).milliseconds }
}
