import Foundation
import Hummingbird
import NIOCore

/// A body with a strong ETag: `If-None-Match` naming it (or `*`) gets 304 without the body.
enum CachedResponse {
    static func make(
        _ bytes: [UInt8], contentType: String, etag tag: String, cacheControl: String, request: Request,
        extra: HTTPFields = [:]
    ) -> Response {
        make(ByteBuffer(bytes: bytes), contentType: contentType, etag: tag, cacheControl: cacheControl, request: request, extra: extra)
    }

    static func make(
        _ body: ByteBuffer, contentType: String, etag tag: String, cacheControl: String, request: Request,
        extra: HTTPFields = [:]
    ) -> Response {
        let etag = "\"\(tag)\""
        var headers: HTTPFields = [.eTag: etag, .cacheControl: cacheControl]
        headers.append(contentsOf: extra)
        if let wanted = request.headers[values: .ifNoneMatch].first, matches(wanted, etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// Whether an `If-None-Match` list names the tag (weak comparison, as RFC 9110 asks for GET).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            var candidate = candidate.trimmingCharacters(in: .whitespaces)
            if candidate == "*" { return true }
            if candidate.hasPrefix("W/") { candidate.removeFirst(2) }
            return candidate == etag
        }
    }
}
