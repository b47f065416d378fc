import HTTPTypes
import Hummingbird
import Offload
import Tracing

/// A server span for each request (`GET /v1/jobs/{id}`), a child of the caller's trace when the
/// request carries one (W3C `traceparent`, as the tracer reads it). Routes run in its context, so
/// that a job they submit (an API submission, a card) continues the request's trace.
struct RequestTracing<Context: RequestContext>: RouterMiddleware {
    let tracer: any Tracer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var parent = ServiceContext.current ?? .topLevel
        tracer.extract(request.headers, into: &parent, using: HeaderExtractor())
        let method = request.method.rawValue
        let span = tracer.startSpan(method, context: parent, ofKind: .server)
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = String(request.uri.path.prefix(256))
        defer { span.end() }
        do {
            let response = try await ServiceContext.$current.withValue(span.context) { try await next(request, context) }
            finish(span, route: context.endpointPath, status: response.status.code)
            return response
        } catch {
            finish(span, route: context.endpointPath, status: (error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }

    private func finish(_ span: any Span, route: String?, status: Int) {
        if let route {
            span.operationName = "\(span.operationName) \(route)"
            span.attributes["http.route"] = route
        }
        span.attributes["http.response.status_code"] = status
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }

    struct HeaderExtractor: Extractor {
        func extract(key: String, from carrier: HTTPFields) -> String? {
            HTTPField.Name(key).flatMap { carrier[$0] }
        }
    }
}
