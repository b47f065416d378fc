/// A file a durable job produced, kept by its queue so that any host can serve it.
public struct Artifact: Sendable, Hashable {
    /// The SHA-256 of its bytes, in hex: its name (the same bytes are stored once).
    public var sha256: String
    public var contentType: String
    public var size: Int

    public init(sha256: String, contentType: String, size: Int) {
        self.sha256 = sha256
        self.contentType = contentType
        self.size = size
    }

    /// The content type of a file named `name`, by its extension.
    public static func contentType(of name: String) -> String {
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch ext {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        case "gif": return "image/gif"
        case "svg": return "image/svg+xml"
        case "json": return "application/json"
        case "jsonl", "ndjson": return "application/x-ndjson"
        case "csv": return "text/csv"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }

    /// How a result records it: `{"sha256":…,"bytes":…,"contentType":…}`.
    var json: JSONValue {
        .object([("sha256", .string(sha256)), ("bytes", .int(Int64(size))), ("contentType", .string(contentType))])
    }
}
