import Hummingbird
import Logging
import Offload

/// Every response gets `nosniff`, a referrer policy, no framing and the Content-Security-Policy.
/// An ``OffloadError`` no route turned into a response is answered as ``APIError`` says; any other
/// error becomes a bare 500 (the cause is logged, never sent).
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    /// What the dashboard may load: its own files alone, its pictures from itself or `data:`.
    static var contentSecurityPolicy: String {
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
            + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch let error as OffloadError {
            // One a route did not turn into an answer (a store whose queue is away): by its code.
            response = try APIError(error).response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            response = try APIError(.internalServerError, code: "internal", "the service failed to answer; see its log")
                .response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.offloadReferrerPolicy] = "no-referrer"
        response.headers[.offloadFrameOptions] = "DENY"
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        }
        return response
    }
}
