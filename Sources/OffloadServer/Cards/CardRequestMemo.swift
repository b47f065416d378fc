import Synchronization

/// Card requests read before, by their exact query: a card asked for again (the cached path,
/// what social sites do) skips reading its parameters into a payload and hashing its key. Only
/// cards without a logo are kept (a logo's identity is the file's, looked at each time); at most
/// `limit` queries of at most `maxQueryBytes`, all forgotten when full.
final class CardRequestMemo: Sendable {
    let limit: Int
    static let maxQueryBytes = 2_048
    private let requests = Mutex([String: CardRequest]())

    init(limit: Int = 4_096) {
        self.limit = limit
    }

    func request(for query: String, format: String) -> CardRequest? {
        guard query.utf8.count <= Self.maxQueryBytes else { return nil }
        return requests.withLock { $0[format + "?" + query] }
    }

    func keep(_ request: CardRequest, for query: String, format: String) {
        guard !request.hasLogo, query.utf8.count <= Self.maxQueryBytes else { return }
        requests.withLock { requests in
            if requests.count >= limit { requests.removeAll(keepingCapacity: true) }
            requests[format + "?" + query] = request
        }
    }
}
