import Foundation
import Tracing
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
    /// Card queries read before.
    let cardRequests = CardRequestMemo()
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

    /// The parts of the service, to mount in a program's own router (``addRoutes(_:to:)``).
    public struct Routes: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// The dashboard's page and files (`/`, `/app.js`, `/style.css`).
        public static let dashboard = Routes(rawValue: 1)
        /// The jobs API (`/v1/jobs…`, `/v1/artifacts/…`), what the dashboard reads besides
        /// (`/v1/auth`, `/v1/overview`, `/v1/stream`) and `/openapi.json`.
        public static let jobs = Routes(rawValue: 2)
        /// `/og.png`, `/og.jpg`, `/og.webp`.
        public static let cards = Routes(rawValue: 4)
        /// `/metrics`.
        public static let metrics = Routes(rawValue: 8)
        /// `/healthz`, `/readyz`.
        public static let health = Routes(rawValue: 16)
        public static let all: Routes = [.dashboard, .jobs, .cards, .metrics, .health]

        /// Each route of these parts: its method and its path as `/openapi.json` writes it.
        var paths: [(method: String, path: String)] {
            var paths: [(method: String, path: String)] = []
            if contains(.dashboard) { paths += [("GET", "/"), ("GET", "/app.js"), ("GET", "/style.css")] }
            if contains(.health) { paths += [("GET", "/healthz"), ("GET", "/readyz")] }
            if contains(.metrics) { paths += [("GET", "/metrics")] }
            if contains(.jobs) {
                paths += [
                    ("GET", "/openapi.json"), ("GET", "/v1/auth"), ("GET", "/v1/overview"), ("GET", "/v1/stream"),
                    ("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{id}"), ("DELETE", "/v1/jobs/{id}"),
                    ("POST", "/v1/jobs/{id}/retry"), ("POST", "/v1/jobs/bulk"), ("GET", "/v1/jobs/{id}/events"), ("GET", "/v1/artifacts/{sha256}"),
                    ("GET", "/v1/kinds"), ("PUT", "/v1/kinds/{kind}"), ("POST", "/v1/kinds/{kind}/pause"), ("POST", "/v1/kinds/{kind}/resume"),
                    ("GET", "/v1/schedules"), ("POST", "/v1/schedules"), ("DELETE", "/v1/schedules/{name}"),
                    ("POST", "/v1/schedules/{name}/pause"), ("POST", "/v1/schedules/{name}/resume")
                ]
            }
            if contains(.cards) { paths += [("GET", "/og.png"), ("GET", "/og.jpg"), ("GET", "/og.webp")] }
            return paths
        }
    }

    /// Every route: its method and its path as `/openapi.json` writes it.
    public static var routes: [(method: String, path: String)] { Routes.all.paths }

    /// Adds the service's routes to a program's own Hummingbird router, or to a group of one
    /// under a prefix of its choice (`router.group("admin")`): the dashboard works under any
    /// prefix, and the token check is a middleware of the groups that need it. Every route
    /// answers errors as the jobs API does (a JSON error with its code) and carries the security
    /// headers; requests are counted for `/metrics`.
    ///
    /// ```swift
    /// let router = Router()
    /// router.get("/posts/{slug}") { request, context in "A post" }
    /// service.addRoutes([.dashboard, .jobs, .metrics], to: router.group("admin"))
    /// service.addRoutes([.cards, .health], to: router)
    /// ```
    /// Make the router with `options: .autoGenerateHeadEndpoints` to answer `HEAD /og.png` (a
    /// link unfurler's first question).
    public func addRoutes<Context: RequestContext>(_ routes: Routes = .all, to router: some RouterMethods<Context>) {
        var group = router.group()
        if let tracer { group = group.add(middleware: RequestTracing<Context>(tracer: tracer)) }
        group = group.add(middleware: SecurityHeaders<Context>()).add(middleware: requests.middleware(for: Context.self))
        add(routes, to: group)
    }

    private func add<Context: RequestContext>(_ routes: Routes, to router: some RouterMethods<Context>) {
        if routes.contains(.dashboard) { addDashboardRoutes(to: router) }
        if routes.contains(.health) { addHealthRoutes(to: router) }
        if routes.contains(.metrics) { addMetricsRoutes(to: router) }
        if routes.contains(.jobs) {
            addOverviewRoutes(to: router)
            addJobRoutes(to: router)
            addBulkRoutes(to: router)
            addKindRoutes(to: router)
            addScheduleRoutes(to: router)
        }
        if routes.contains(.cards) { addCardRoutes(to: router) }
        addMethodNotAllowed(routes, to: router)
    }

    /// The router of `offload serve`: every route, behind the security headers (and CORS when
    /// configured), unmatched paths included.
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
        if let tracer { router.add(middleware: RequestTracing(tracer: tracer)) }
        router.add(middleware: SecurityHeaders())
        router.add(middleware: requests.middleware())
        add(.all, to: router)
        return router
    }

    /// 405 with `Allow` for a method a route's path does not take (not a 404: the path exists).
    private func addMethodNotAllowed<Context: RequestContext>(_ routes: Routes, to router: some RouterMethods<Context>) {
        var methods: [String: [String]] = [:]
        var order: [String] = []
        for route in routes.paths {
            if methods[route.path] == nil { order.append(route.path) }
            methods[route.path, default: []].append(route.method)
        }
        let others = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "QUERY"] + (configuration.corsOrigin == nil ? ["OPTIONS"] : [])
        for path in order {
            let allowed = methods[path] ?? []
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

    /// The tracer of requests' spans; `nil` when nothing traces.
    var tracer: (any Tracer)? {
        let tracer = configuration.tracer ?? InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }

    /// The client a request counts against: its address (or, behind a trusted proxy, the last
    /// `X-Forwarded-For` entry).
    func client(of request: Request, context: some RequestContext) -> String {
        if configuration.trustsForwardedFor, let forwarded = request.headers[.offloadForwardedFor],
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty
        {
            return last
        }
        return (context as? any RemoteAddressRequestContext)?.remoteAddress?.ipAddress ?? "unknown"
    }

    /// 429 with Retry-After when the client is over `limiter`'s rate.
    func limit(_ limiter: RateLimiter, _ request: Request, context: some RequestContext) throws(APIError) {
        try limit(limiter, client: client(of: request, context: context))
    }

    func limit(_ limiter: RateLimiter, client: String) throws(APIError) {
        guard let wait = limiter.take(client) else { return }
        let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
        var error = APIError(.tooManyRequests, code: "rateLimited", "too many requests from this client; retry in \(seconds) s")
        error.headers[.retryAfter] = String(seconds)
        throw error
    }
}
