import Hummingbird
import Offload

/// The innermost middleware: an ``OffloadError`` a route did not turn into an answer (a store
/// whose queue is away, a cursor it does not know) is answered as ``APIError`` says, with its code.
struct ErrorAnswers<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch let error as OffloadError { throw APIError(error) }
    }
}
