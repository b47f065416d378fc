import Foundation
public import Hummingbird
public import Logging
public import Offload
public import Prometheus

/// The HTTP service of `offload serve` over a ``JobStore``: the jobs API, Open Graph cards,
/// metrics, health and the dashboard.
///
/// ```swift
/// let store = JobStore(backend: try MemoryBackend(pool: pool, outputFolder: outputs), pool: pool)
/// let service = OffloadService(store: store, configuration: ServiceConfiguration(port: 8080, token: "s3cret"), registry: pool.registry)
/// let application = service.application(logger: logger)
/// let group = ServiceGroup(services: [pool, store, application], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
/// `pool`'s kinds write their files to `outputs`; `offload serve` is this, with a Prometheus
/// registry bootstrapped for `metrics` and the pool options of `offload run`.
public struct OffloadService: Sendable {
    public static let version = "0.11.0"

    /// The capability a card's job requires on the durable queue: only a service's card pool
    /// declares it, so that cards are drawn by the workers set aside for them.
    public static let cardCapability = "offload.card"

    public let store: JobStore
    public let configuration: ServiceConfiguration
    /// The kinds' handlers, to refuse a malformed payload when it is submitted (400) rather
    /// than when it runs; `nil` checks only the job's own fields.
    public let registry: HandlerRegistry?
    /// A registry of the program's own metrics, which `GET /metrics` shows after the service's.
    public let metrics: PrometheusCollectorRegistry?

    let access: Access
    let writes: RateLimiter
    let renders: RateLimiter
    let cards: CardCache
    /// Cards being drawn now, across every client: at most ``ServiceConfiguration/maxConcurrentRenders``.
    let drawing: RenderSlots
    /// The open connections, under ``ServiceConfiguration/connections``.
    let connections: ConnectionTable
    /// The HTTP requests answered, for `/metrics`.
    let requests = RequestMetrics()

    public init(
        store: JobStore, configuration: ServiceConfiguration = ServiceConfiguration(), registry: HandlerRegistry? = nil,
        metrics: PrometheusCollectorRegistry? = nil
    ) {
        self.store = store
        self.configuration = configuration
        self.registry = registry
        self.metrics = metrics
        access = Access(token: configuration.token, publicReads: configuration.publicReads)
        writes = RateLimiter(perMinute: configuration.writesPerMinute)
        renders = RateLimiter(perMinute: configuration.rendersPerMinute)
        cards = CardCache(maxBytes: configuration.cardCacheBytes)
        drawing = RenderSlots(limit: configuration.maxConcurrentRenders)
        connections = ConnectionTable(limits: configuration.connections)
    }

    /// Every route: its method and its path as `/openapi.json` writes it.
    public static let routes: [(method: String, path: String)] = [
        ("GET", "/"), ("GET", "/app.js"), ("GET", "/style.css"),
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json"),
        ("GET", "/v1/auth"), ("GET", "/v1/overview"), ("GET", "/v1/stream"),
        ("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{id}"), ("DELETE", "/v1/jobs/{id}"),
        ("POST", "/v1/jobs/{id}/retry"), ("GET", "/v1/jobs/{id}/events"), ("GET", "/v1/artifacts/{sha256}"),
        ("GET", "/og.png"), ("GET", "/og.jpg"), ("GET", "/og.webp")
    ]

    /// The router of every route, behind the security headers (and CORS when configured).
    public func router() -> Router<ServerContext> {
        // HEAD wherever GET works (a link unfurler asks HEAD /og.png first).
        let router = Router(context: ServerContext.self, options: .autoGenerateHeadEndpoints)
        // CORS outermost: it then sees every error already answered by SecurityHeaders.
        if let origin = configuration.corsOrigin {
            router.add(
                middleware: CORSMiddleware(
                    allowOrigin: .custom(origin), allowHeaders: [.authorization, .contentType, .offloadLastEventID],
                    allowMethods: [.get, .post, .delete], maxAge: .seconds(600)))
        }
        router.add(middleware: SecurityHeaders())
        router.add(middleware: requests.middleware())
        addDashboardRoutes(to: router)
        addOperationsRoutes(to: router)
        addJobRoutes(to: router)
        addCardRoutes(to: router)
        addMethodNotAllowed(to: router)
        return router
    }

    /// 405 with `Allow` for a method a route's path does not take (not a 404: the path exists).
    private func addMethodNotAllowed(to router: Router<ServerContext>) {
        var methods: [String: [String]] = [:]
        for route in Self.routes { methods[route.path, default: []].append(route.method) }
        let others = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "QUERY"] + (configuration.corsOrigin == nil ? ["OPTIONS"] : [])
        for (path, allowed) in methods {
            let allow = allowed.joined(separator: ", ")
            for method in others where !allowed.contains(method) {
                router.on(RouterPath(path), method: HTTPRequest.Method(method)!) { _, _ -> Response in
                    var error = APIError(.methodNotAllowed, code: "methodNotAllowed", "\(path) takes \(allow)")
                    error.headers[.allow] = allow
                    throw error
                }
            }
        }
    }

    /// The application: listens on the configured address, under the configured connection
    /// limits and timeouts; `onListening` learns the port.
    public func application(logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .guardedHTTP1(connections),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }

    /// The client a request counts against: its address (or, behind a trusted proxy, the last
    /// `X-Forwarded-For` entry).
    func client(of request: Request, context: ServerContext) -> String {
        if configuration.trustsForwardedFor, let forwarded = request.headers[.offloadForwardedFor],
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty
        {
            return last
        }
        return context.remoteAddress?.ipAddress ?? "unknown"
    }

    /// 429 with Retry-After when the client is over `limiter`'s rate.
    func limit(_ limiter: RateLimiter, _ request: Request, context: ServerContext) throws(APIError) {
        guard let wait = limiter.take(client(of: request, context: context)) else { return }
        let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
        var error = APIError(.tooManyRequests, code: "rateLimited", "too many requests from this client; retry in \(seconds) s")
        error.headers[.retryAfter] = String(seconds)
        throw error
    }
}
