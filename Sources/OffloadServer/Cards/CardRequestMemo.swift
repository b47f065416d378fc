import Synchronization

/// Card requests read before, by their exact query: a card asked for again (the cached path,
/// what social sites do) skips reading its parameters into a payload, hashing its key and, on a
/// signed service, checking its signature again (the same query carries the same `sig`). Only
/// cards without a logo are kept (a logo's identity is the file's, looked at each time); at most
/// `limit` queries of at most `maxQueryBytes`, all forgotten when full.
final class CardRequestMemo: Sendable {
    /// A query read before: its card and, when signed, when its URL expires (checked each time).
    struct Known: Sendable {
        var card: CardRequest
        var expires: Int64?
    }

    let limit: Int
    static let maxQueryBytes = 2_048
    private let requests = Mutex([String: Known]())

    init(limit: Int = 4_096) {
        self.limit = limit
    }

    func request(for query: String, format: String) -> Known? {
        guard query.utf8.count <= Self.maxQueryBytes else { return nil }
        return requests.withLock { $0[format + "?" + query] }
    }

    /// Keeps a card read from `query` (whose signature, on a signed service, checked).
    func keep(_ known: Known, for query: String, format: String) {
        guard !known.card.hasLogo, query.utf8.count <= Self.maxQueryBytes else { return }
        requests.withLock { requests in
            if requests.count >= limit { requests.removeAll(keepingCapacity: true) }
            requests[format + "?" + query] = known
        }
    }
}
