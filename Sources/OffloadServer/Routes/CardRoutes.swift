import Foundation
public import Hummingbird
import Logging
import NIOCore
import Offload

/// The formats of a card.
public enum CardFormat: String, Sendable, CaseIterable {
    case png, jpeg, webp
}

extension OffloadService {
    /// `GET /og.png|.jpg|.webp?title=…`: a card drawn by the workers, kept in the cache by a key
    /// over every parameter that changes a pixel. Public (social sites fetch cards without a
    /// token); cards not in the cache count against the client's render rate.
    func addCardRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        for (path, format) in [("/og.png", CardFormat.png), ("/og.jpg", .jpeg), ("/og.webp", .webp)] {
            router.get(RouterPath(path)) { request, context in try await card(request, context: context, path: path, format: format) }
        }
    }

    private func card(_ request: Request, context: some RequestContext, path: String, format: CardFormat) async throws -> Response {
        let query = request.uri.query ?? ""
        let card: CardRequest
        if let known = cardRequests.request(for: query, format: format.rawValue) {
            // Read (and, signed, checked) before: only its expiry can have changed.
            if let expires = known.expires, CardSigner.hasExpired(expires) {
                throw Self.refusal(.expired)
            }
            card = known.card
        } else {
            var parameters = try CardRequest.parameters(of: query)
            // A signed service checks before anything else: the cache, a 304, or a drawing.
            var expires: Int64?
            if let signer = configuration.cardSigner {
                do { try signer.check(parameters, path: path) } catch { throw Self.refusal(error) }
                expires = parameters["expires"].flatMap { Int64($0) }
            }
            parameters["sig"] = nil
            parameters["expires"] = nil
            card = try CardRequest(parameters: parameters, format: format.rawValue, version: configuration.version)
            cardRequests.keep(.init(card: card, expires: expires), for: query, format: format.rawValue)
        }
        return try await cardResponse(card, request: request, logger: context.logger, client: client(of: request, context: context))
    }

    /// The card for `parameters` (what `/og.png`'s query takes: `title`, `template`, …) as the
    /// answer to `request`, for a route of the program's own: from the cache, or drawn now by the
    /// service's workers and kept; with its ETag (`If-None-Match` gets 304) and cache headers.
    /// The program chooses the parameters, so no signature is asked for and no client's render
    /// rate applies; the service's bound on cards drawn at once does.
    ///
    /// ```swift
    /// router.get("/posts/{slug}/card.png") { request, context in
    ///     guard let post = posts[try context.parameters.require("slug")] else { throw HTTPError(.notFound) }
    ///     return try await offload.cardResponse(["title": post.title, "template": "midnight"], for: request, context: context)
    /// }
    /// ```
    /// - Throws: an error the router answers as JSON: `400` for a parameter out of range (named),
    ///   `503` when every render slot is taken, `504` past the render timeout.
    public func cardResponse(
        _ parameters: [String: String], format: CardFormat = .png, for request: Request, context: some RequestContext
    ) async throws -> Response {
        let card = try CardRequest(parameters: parameters, format: format.rawValue, version: configuration.version)
        return try await cardResponse(card, request: request, logger: context.logger, client: nil)
    }

    /// - Parameter client: whose render rate a drawing counts against; `nil` for none.
    private func cardResponse(_ card: CardRequest, request: Request, logger: Logger, client: String?) async throws -> Response {
        // The key names the pixels: a client holding this tag holds this card, drawn or not.
        let etag = String(card.key.prefix(40))
        let cacheControl = "public, max-age=86400"
        let kept = cards.cached(card.key)
        // Without a logo the key alone names the pixels. With one, only a card drawn says so: a
        // 304 for a never-drawn key would tell whether a file exists anywhere on the host.
        if let wanted = request.headers[.ifNoneMatch], CachedResponse.matches(wanted, "\"\(etag)\""), !card.hasLogo || kept != nil {
            return CachedResponse.make(ByteBuffer(), contentType: "", etag: etag, cacheControl: cacheControl, request: request)
        }
        var cacheState = "hit"
        let drawn: CardCache.Card
        if let kept {
            drawn = kept
        } else {
            cacheState = "miss"
            let joining = cards.isRendering(card.key)
            if !joining, let client { try limit(renders, client: client) }
            guard joining || drawing.take() else {
                var busy = APIError(.serviceUnavailable, code: "busy", "\(drawing.limit) cards are being drawn; retry in a second")
                busy.headers[.retryAfter] = "1"
                throw busy
            }
            var draw = Job(kind: "image", payload: .json(card.payload))
            draw.timeout = configuration.renderTimeout
            let job = draw
            let store = self.store
            let key = card.key
            let deadline = configuration.renderTimeout
            // The slot is held while this request waits for the card it started (or, in a race,
            // for the one another request started meanwhile).
            defer { if !joining { drawing.give() } }
            do {
                drawn = try await cards.card(key) {
                    let file = try await store.render(job, key: key, timeout: deadline)
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
                // A failure of the service's own (a full disk, a crashed worker) is logged, and
                // the public answer names no file of the host.
                if refusal.status.code >= 500 {
                    logger.error("a card could not be drawn", metadata: ["error": "\(error)"])
                    refusal.message = "the card could not be drawn (\(error.code.rawValue)); see the service's log"
                }
                throw refusal
            }
        }
        return CachedResponse.make(
            drawn.body, contentType: drawn.contentType, etag: etag, cacheControl: cacheControl, request: request,
            extra: [.offloadCache: cacheState])
    }

    private static func refusal(_ refusal: CardSigner.Refusal) -> APIError {
        switch refusal {
        case .missing:
            APIError(.forbidden, code: "signatureRequired", "this service draws only signed cards: the URL needs its sig parameter", field: "sig")
        case .wrong: APIError(.forbidden, code: "badSignature", "the card's signature does not match its parameters", field: "sig")
        case .expired: APIError(.forbidden, code: "signatureExpired", "the card's signed URL has expired", field: "expires")
        }
    }
}
