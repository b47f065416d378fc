public import Tracing

/// How `offload serve` listens and whom it lets in.
public struct ServiceConfiguration: Sendable {
    /// The address to listen on (default loopback only).
    public var host: String
    /// The port; 0 for any free one (the service says which once it listens).
    public var port: Int
    /// The bearer token writes (and, unless `publicReads`, reads) need; `nil` lets anyone in.
    public var token: String?
    /// Reads (job lists, job states, events, artifacts, metrics) without the token.
    public var publicReads: Bool
    /// The largest request body, in bytes (413 beyond).
    public var maxBodyBytes: Int
    /// Writes (submit, cancel, retry) each client may make a minute; 0 for no limit.
    public var writesPerMinute: Int
    /// Cards drawn (not served from the cache) for each client a minute; 0 for no limit.
    public var rendersPerMinute: Int
    /// The bytes of cards the cache keeps.
    public var cardCacheBytes: Int
    /// How long a card may take, queued and drawn, before the request fails 504.
    public var renderTimeout: Duration
    /// Cards drawn at once across every client; a new card beyond it is answered 503 with
    /// Retry-After (cached cards are always served).
    public var maxConcurrentRenders: Int
    /// The one origin browsers may call the API from (CORS); `nil` keeps CORS off.
    public var corsOrigin: String?
    /// Take the client's address from the last `X-Forwarded-For` entry (behind a reverse proxy).
    public var trustsForwardedFor: Bool
    /// The furthest `delayMs` or `runAt` may put a submitted job off.
    public var maxDelay: Duration
    /// The most jobs one `POST /v1/jobs` may carry.
    public var maxJobsPerRequest: Int
    /// The longest `timeoutMs` a submitted job may ask for (400 beyond); jobs that set none get
    /// the pool's default.
    public var maxJobTimeout: Duration
    /// The bounds of each event stream (`/v1/stream`, `/v1/jobs/{id}/events`).
    public var streamLimits: StreamLimits
    /// Timeouts and limits of client connections.
    public var connections: ConnectionLimits
    /// Signs card URLs: with one, only cards whose URL carries its signature are drawn or served
    /// (403 otherwise); `nil` leaves cards open to anyone.
    public var cardSigner: CardSigner?
    /// The tracer of each request's span; `nil` (default) for the one bootstrapped in
    /// `InstrumentationSystem`, if any (a job a request submits continues its trace).
    public var tracer: (any Tracer)?
    /// The service's name and version, shown by the dashboard and part of every card's cache key.
    public var name: String
    public var version: String

    public init(
        host: String = "127.0.0.1", port: Int = 8080, token: String? = nil, publicReads: Bool = false,
        maxBodyBytes: Int = 4 << 20, writesPerMinute: Int = 600, rendersPerMinute: Int = 600,
        cardCacheBytes: Int = 64 << 20, renderTimeout: Duration = .seconds(30), maxConcurrentRenders: Int = 64,
        corsOrigin: String? = nil,
        trustsForwardedFor: Bool = false, maxDelay: Duration = .seconds(86_400), maxJobsPerRequest: Int = 1_000,
        maxJobTimeout: Duration = .seconds(3_600), streamLimits: StreamLimits = StreamLimits(),
        connections: ConnectionLimits = ConnectionLimits(), cardSigner: CardSigner? = nil,
        name: String = "offload", version: String = OffloadService.version
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.publicReads = publicReads
        self.maxBodyBytes = maxBodyBytes
        self.writesPerMinute = writesPerMinute
        self.rendersPerMinute = rendersPerMinute
        self.cardCacheBytes = cardCacheBytes
        self.renderTimeout = renderTimeout
        self.maxConcurrentRenders = maxConcurrentRenders
        self.corsOrigin = corsOrigin
        self.trustsForwardedFor = trustsForwardedFor
        self.maxDelay = maxDelay
        self.maxJobsPerRequest = maxJobsPerRequest
        self.maxJobTimeout = maxJobTimeout
        self.streamLimits = streamLimits
        self.connections = connections
        self.cardSigner = cardSigner
        self.name = name
        self.version = version
    }
}
