public import Offload

/// The plugins shipped with Offload (`executionMode: system`): upstream's two metadata worker
/// operations, as the plugin `metadata` 1.0.0.
///
/// - `validate`: `{"title":…, "description":…}` → `{"valid":…, "errors":[…], "warnings":[…]}`:
///   a title is required and at most 60 characters, a description at most 160.
/// - `transform`: the same fields trimmed, inner whitespace collapsed, cut to 60 and 160
///   characters at a word with an ellipsis, and a URL `slug` made from the title.
public struct MetadataPlugin: TrustedPlugin {
    public let id = "metadata"
    public let version = SemanticVersion("1.0.0")!
    public let operations: Set<PluginManifest.Operation> = [.validate, .transform]
    static let titleLimit = 60
    static let descriptionLimit = 160

    public init() {}

    public func run(_ operation: PluginManifest.Operation, input: JSONValue) async throws -> JSONValue {
        guard case .object = input else { throw OffloadError.plugin(.invalidPayload, "payload.input must be an object with title and description") }
        for key in ["title", "description"] {
            if let value = input[key], value != .null, value.stringValue == nil {
                throw OffloadError.plugin(.invalidPayload, "payload.input.\(key) must be a string")
            }
        }
        let title = Self.collapsed(input["title"]?.stringValue ?? "")
        let description = Self.collapsed(input["description"]?.stringValue ?? "")
        switch operation {
        case .validate:
            var errors: [JSONValue] = []
            var warnings: [JSONValue] = []
            if title.isEmpty { errors.append(.string("title is required")) }
            if title.count > Self.titleLimit { errors.append(.string("title is \(title.count) characters, over \(Self.titleLimit)")) }
            if description.count > Self.descriptionLimit {
                errors.append(.string("description is \(description.count) characters, over \(Self.descriptionLimit)"))
            }
            if description.isEmpty { warnings.append(.string("description is empty")) }
            return .object([("valid", .bool(errors.isEmpty)), ("errors", .array(errors)), ("warnings", .array(warnings))])
        case .transform:
            var members: [(key: String, value: JSONValue)] = [
                ("title", .string(Self.cut(title, Self.titleLimit))),
                ("description", .string(Self.cut(description, Self.descriptionLimit))),
                ("slug", .string(Self.slug(title)))
            ]
            if case .object(let rest) = input { members += rest.filter { !["title", "description", "slug"].contains($0.key) } }
            return .object(members)
        default:
            throw OffloadError.plugin(.invalidPayload, "plugin metadata has no operation \(operation.rawValue) (it has validate and transform)")
        }
    }

    static func collapsed(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// At most `limit` characters, cut after the last whole word that fits, with "…".
    static func cut(_ text: String, _ limit: Int) -> String {
        guard text.count > limit else { return text }
        let head = text.prefix(limit - 1)
        let word = head.lastIndex(of: " ").map { head[..<$0] } ?? head
        return String(word) + "…"
    }

    static func slug(_ text: String) -> String {
        var slug = ""
        for scalar in text.lowercased().unicodeScalars {
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
            } else if !slug.isEmpty, !slug.hasSuffix("-") {
                slug += "-"
            }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        return slug
    }
}
