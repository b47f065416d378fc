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

    /// The file a completed job's result names under `folder` (its `file` field, as `image` and
    /// `data` write it): the result's members, the file's path and its name. `nil` for another
    /// outcome, or a path outside the folder.
    public static func file(of outcome: JobOutcome, under folder: String) -> (members: [(key: String, value: JSONValue)], path: String, name: String)?
    {
        // Most results name no file: a glance at their text spares parsing them whole.
        guard outcome.status == .completed, outcome.result?.mayHoldKey("file") == true,
            case .object(let members)? = try? outcome.result?.json(),
            case .string(let path)? = members.first(where: { $0.key == "file" })?.value,
            path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/"), !path.contains("/../")
        else { return nil }
        return (members, path, String(path.split(separator: "/").last ?? "file"))
    }

    /// How a result records it: `{"sha256":…,"bytes":…,"contentType":…}`.
    public var json: JSONValue {
        .object([("sha256", .string(sha256)), ("bytes", .int(Int64(size))), ("contentType", .string(contentType))])
    }
}
