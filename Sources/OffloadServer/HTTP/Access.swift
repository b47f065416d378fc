import Hummingbird
import Offload

/// Who may do what: a bearer token for every write (and every read unless reads are public),
/// compared in constant time.
struct Access: Sendable {
    enum Need { case read, write }

    /// The SHA-256 of the token; comparing digests takes the same time whatever the guess.
    private let tokenDigest: [UInt8]?
    let publicReads: Bool

    init(token: String?, publicReads: Bool) {
        tokenDigest = token.map { SHA256.digest(Array($0.utf8)) }
        self.publicReads = publicReads
    }

    var tokenRequired: Bool { tokenDigest != nil }

    /// Whether the request's `Authorization: Bearer …` is the token.
    func isAuthenticated(_ request: Request) -> Bool {
        guard let tokenDigest else { return true }
        guard let header = request.headers[.authorization], header.utf8.count <= 4_096,
            header.lowercased().hasPrefix("bearer ")
        else { return false }
        let given = SHA256.digest(Array(header.utf8.dropFirst(7)))
        var difference: UInt8 = 0
        for (a, b) in zip(given, tokenDigest) { difference |= a ^ b }
        return difference == 0
    }

    func require(_ need: Need, _ request: Request) throws(APIError) {
        if need == .read && publicReads { return }
        guard isAuthenticated(request) else {
            var error = APIError(
                .unauthorized, code: "unauthorized",
                "this \(need == .write ? "action" : "read") needs the service's token: send Authorization: Bearer <token>")
            error.headers[.wwwAuthenticate] = "Bearer realm=\"offload\""
            throw error
        }
    }
}

/// The token check of a group of routes: a request without the token the group needs is
/// answered 401 before its route runs.
struct AccessCheck<Context: RequestContext>: RouterMiddleware {
    let access: Access
    let need: Access.Need

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try access.require(need, request)
        return try await next(request, context)
    }
}
