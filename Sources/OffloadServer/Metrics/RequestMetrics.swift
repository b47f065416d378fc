public import Hummingbird
import Synchronization

/// Counts the service's HTTP requests by method, route and status, times them, and tracks
/// those in flight: the `offload_http_*` families of `/metrics`. A middleware of any
/// Hummingbird router (the route is the matched pattern, such as `/v1/jobs/{id}`, so that a
/// million job ids make one series). A request is timed until its response's head is ready: an
/// event stream counts when it starts, not for its whole life.
public final class RequestMetrics: Sendable {
    struct Route: Hashable, Comparable {
        var method: String
        var route: String

        static func < (a: Route, b: Route) -> Bool { (a.route, a.method) < (b.route, b.method) }
    }

    /// One route's requests: by status, and their times.
    final class Series: Sendable {
        let statuses = Mutex([Int: Int]())
        let times = Histogram()
    }

    /// The most routes counted: routes are the router's and methods a handful.
    static let maxRoutes = 1_000
    /// The most statuses counted for one route.
    static let maxStatuses = 64

    private let series = Mutex([Route: Series]())
    private let inFlight = Atomic(0)

    public init() {}

    /// The middleware that records into this.
    public func middleware<Context: RequestContext>(for context: Context.Type = Context.self) -> some RouterMiddleware<Context> {
        Recorder(metrics: self)
    }

    struct Recorder<Context: RequestContext>: RouterMiddleware {
        let metrics: RequestMetrics

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let start = ContinuousClock.now
            metrics.inFlight.add(1, ordering: .relaxed)
            defer { metrics.inFlight.subtract(1, ordering: .relaxed) }
            do {
                let response = try await next(request, context)
                metrics.record(request.method, context.endpointPath, response.status.code, since: start)
                return response
            } catch {
                metrics.record(request.method, context.endpointPath, (error as? any HTTPResponseError)?.status.code ?? 500, since: start)
                throw error
            }
        }
    }

    func record(_ method: HTTPRequest.Method, _ route: String?, _ status: Int, since start: ContinuousClock.Instant) {
        // Methods outside the standard few count as one, as do paths no route matched.
        let name =
            switch method {
            case .get: "GET"
            case .head: "HEAD"
            case .post: "POST"
            case .put: "PUT"
            case .patch: "PATCH"
            case .delete: "DELETE"
            case .options: "OPTIONS"
            default: "other"
            }
        let key = Route(method: name, route: route ?? "unmatched")
        let found = series.withLock { table -> Series? in
            if let existing = table[key] { return existing }
            guard table.count < Self.maxRoutes else { return nil }
            let made = Series()
            table[key] = made
            return made
        }
        guard let found else { return }
        found.statuses.withLock { statuses in
            if statuses[status] != nil || statuses.count < Self.maxStatuses { statuses[status, default: 0] += 1 }
        }
        found.times.record(ContinuousClock.now - start)
    }

    func write(into text: inout MetricsText) {
        let all = series.withLock { $0.map { ($0.key, $0.value) } }.sorted { $0.0 < $1.0 }
        text.family("offload_http_requests_total", .counter, "HTTP requests answered, by method, matched route and status.")
        for (route, series) in all {
            for (status, count) in series.statuses.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
                text.sample("offload_http_requests_total", [("method", route.method), ("route", route.route), ("status", String(status))], count)
            }
        }
        text.family("offload_http_request_duration_seconds", .histogram, "Time from a request's arrival to its response's head.")
        for (route, series) in all {
            text.histogram("offload_http_request_duration_seconds", [("method", route.method), ("route", route.route)], series.times.reading)
        }
        text.family("offload_http_requests_in_flight", .gauge, "HTTP requests being answered now.")
        text.sample("offload_http_requests_in_flight", [], inFlight.load(ordering: .relaxed))
    }
}
