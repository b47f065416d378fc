public import Hummingbird
import NIOCore
import Offload

/// An error answered as `{"error":{"code","message","field"}}` with its status.
public struct APIError: HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// The field of the request at fault (a query parameter or a key of the body).
    public var field: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    /// The answer to a job error: 400 for what the request got wrong, 409 for a taken id, 422
    /// for a limit passed or dependencies the store does not know (or that form a cycle), 503
    /// when the service cannot take work, 504 for a timeout, 500 for the rest.
    init(_ error: OffloadError, field: String? = nil) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .invalidPayload, .unknownKind, .unstorable: .badRequest
            case .duplicateJob: .conflict
            case .resourceLimitExceeded, .cpuLimitExceeded, .memoryLimitExceeded, .invalidDependency: .unprocessableContent
            case .shuttingDown, .queueFull, .noCapableWorker, .queueUnavailable: .serviceUnavailable
            case .timedOut: .gatewayTimeout
            default: .internalServerError
            }
        self.init(status, code: error.code.rawValue, error.message, field: field)
        // Worth trying again soon: the store makes room as jobs end; the queue comes back.
        switch error.code {
        case .queueFull: headers[.retryAfter] = "1"
        case .queueUnavailable: headers[.retryAfter] = "5"
        default: break
        }
    }

    static func badRequest(_ message: String, field: String?) -> APIError {
        APIError(.badRequest, code: OffloadError.Code.invalidPayload.rawValue, message, field: field)
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "notFound", message) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: [(key: String, value: JSONValue)] = [("code", .string(code)), ("message", .string(message))]
        if let field { error.append(("field", .string(field))) }
        var response = JSONBody.response(.object([("error", .object(error))]), status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// JSON bodies of requests and responses, through the core's parser and writer.
enum JSONBody {
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes: [UInt8] = []
        JSONWriter.write(value, into: &bytes)
        bytes.append(0x0A)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The request's body, up to `limit` bytes (413 beyond), parsed.
    static func read(_ request: Request, limit: Int) async throws -> JSONValue {
        let tooLarge = APIError(.contentTooLarge, code: "bodyTooLarge", "the body is over the limit of \(OffloadError.grouped(limit)) bytes")
        // A declared length over the limit is refused before a byte of the body is read.
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { throw tooLarge }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch is NIOTooManyBytesError { throw tooLarge }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw APIError.badRequest("the body is not JSON: \(error)", field: nil)
        }
    }
}
