import Foundation
public import Hummingbird
import Synchronization

/// Counts the service's HTTP requests by method, route and status, times them, and tracks
/// those in flight: the `offload_http_*` families of `/metrics`. A middleware of any
/// Hummingbird router (the route is the matched pattern, such as `/v1/jobs/{id}`, so that a
/// million job ids make one series).
public final class RequestMetrics: Sendable {
    struct Key: Hashable, Comparable {
        var method: String
        var route: String
        var status: Int

        static func < (a: Key, b: Key) -> Bool { (a.route, a.method, a.status) < (b.route, b.method, b.status) }
    }

    struct Timing: Hashable, Comparable {
        var method: String
        var route: String

        static func < (a: Timing, b: Timing) -> Bool { (a.route, a.method) < (b.route, b.method) }
    }

    /// The most series kept: routes are the router's, methods a handful, statuses a few dozen.
    static let maxSeries = 2_000

    private let counts = Mutex([Key: Int]())
    private let timings = Mutex([Timing: Histogram]())
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
            do {
                var response = try await next(request, context)
                let status = response.status.code
                // Counted once the body is written: a stream's time is its whole life.
                let body = response.body
                let route = context.endpointPath
                response.body = ResponseBody(contentLength: body.contentLength) { writer in
                    defer { metrics.record(request.method.rawValue, route, status, since: start) }
                    try await body.write(writer)
                }
                return response
            } catch {
                let status = (error as? any HTTPResponseError)?.status.code ?? 500
                metrics.record(request.method.rawValue, context.endpointPath, status, since: start)
                throw error
            }
        }
    }

    func record(_ method: String, _ route: String?, _ status: Int, since start: ContinuousClock.Instant) {
        inFlight.subtract(1, ordering: .relaxed)
        // Methods outside the standard few count as one, as do paths no route matched.
        let method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(method) ? method : "other"
        let route = route ?? "unmatched"
        let key = Key(method: method, route: route, status: status)
        let counted = counts.withLock { counts -> Bool in
            guard counts[key] != nil || counts.count < Self.maxSeries else { return false }
            counts[key, default: 0] += 1
            return true
        }
        guard counted else { return }
        let timing = Timing(method: method, route: route)
        let histogram = timings.withLock { timings -> Histogram in
            if let existing = timings[timing] { return existing }
            let made = Histogram()
            timings[timing] = made
            return made
        }
        histogram.record(ContinuousClock.now - start)
    }

    func write(into text: inout MetricsText) {
        text.family("offload_http_requests_total", .counter, "HTTP requests answered, by method, matched route and status.")
        for (key, count) in counts.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            text.sample("offload_http_requests_total", [("method", key.method), ("route", key.route), ("status", String(key.status))], count)
        }
        text.family("offload_http_request_duration_seconds", .histogram, "Time from a request's arrival to the end of its response's body.")
        for (timing, histogram) in timings.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            text.histogram("offload_http_request_duration_seconds", [("method", timing.method), ("route", timing.route)], histogram.reading)
        }
        text.family("offload_http_requests_in_flight", .gauge, "HTTP requests being answered now.")
        text.sample("offload_http_requests_in_flight", [], inFlight.load(ordering: .relaxed))
    }
}
