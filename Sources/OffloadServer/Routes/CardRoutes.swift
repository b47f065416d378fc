import Foundation
import Hummingbird
import NIOCore
import Offload

extension OffloadService {
    /// `GET /og.png|.jpg|.webp?title=…`: a card drawn by the workers, kept in the cache by a key
    /// over every parameter that changes a pixel. Public (social sites fetch cards without a
    /// token); cards not in the cache count against the client's render rate.
    func addCardRoutes(to router: Router<ServerContext>) {
        for (path, format) in [("/og.png", "png"), ("/og.jpg", "jpeg"), ("/og.webp", "webp")] {
            router.get(RouterPath(path)) { request, context in try await card(request, context: context, format: format) }
        }
    }

    private func card(_ request: Request, context: ServerContext, format: String) async throws -> Response {
        let card = try CardRequest(query: request.uri.query ?? "", format: format, version: configuration.version)
        // The key names the pixels: a client holding this tag holds this card, drawn or not.
        let etag = String(card.key.prefix(40))
        let cacheControl = "public, max-age=86400"
        if let wanted = request.headers[.ifNoneMatch], CachedResponse.matches(wanted, "\"\(etag)\"") {
            return CachedResponse.make(ByteBuffer(), contentType: "", etag: etag, cacheControl: cacheControl, request: request)
        }
        var cacheState = "hit"
        let drawn: CardCache.Card
        if let kept = cards.cached(card.key) {
            drawn = kept
        } else {
            cacheState = "miss"
            if !cards.isRendering(card.key) { try limit(renders, request, context: context) }
            var draw = Job(kind: "image", payload: .json(card.payload))
            draw.priority = .high
            draw.timeout = configuration.renderTimeout
            let job = draw
            let store = self.store
            let key = card.key
            do {
                drawn = try await cards.card(key) {
                    let file = try await store.render(job, key: key)
                    return CardCache.Card(body: ByteBuffer(bytes: file.bytes), contentType: file.contentType)
                }
            } catch let error as OffloadError {
                // Anyone may ask for a card: the answer does not name the service's folders.
                var refusal = APIError(error, field: CardRequest.field(of: error))
                if let allowed = refusal.message.range(of: " (allowed: ") {
                    refusal.message = String(refusal.message[..<allowed.lowerBound])
                }
                // A logo that names no picture the service may read: nothing there, whether the
                // file is missing or outside the allowed folders (the answer does not say which).
                if refusal.field == "logo" && error.code == .invalidPayload {
                    refusal.status = .notFound
                    refusal.code = "logoNotFound"
                }
                throw refusal
            }
        }
        return CachedResponse.make(drawn.body, contentType: drawn.contentType, etag: etag, cacheControl: cacheControl, request: request,
                                   extra: [.offloadCache: cacheState])
    }
}
