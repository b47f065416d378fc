#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Offload

/// `GET /og.png?title=…&description=…&template=midnight&backgroundColor=%23112233&…` read into
/// the payload of an `image` job, and the cache key of the card it draws.
///
/// The key is the SHA-256 of everything that changes a pixel: the whole payload in one
/// canonical form (every colour, size, font and position, the template's values included), the
/// format and quality, the logo file's identity (device, inode, size and change time: a logo
/// replaced under the same name is a new card), and the renderer's version.
struct CardRequest: Sendable {
    var payload: JSONValue
    var format: String
    var key: String
    /// Whether the card names a logo file.
    var hasLogo = false

    /// The query parameters, each a key of the card's parameters but `template`, `logo` and `quality`.
    static let textParameters = ["title", "description", "backgroundColor", "textColor", "fontFamily"]
    static let numberParameters = ["titleFontSize", "descriptionFontSize", "padding"]
    static let choiceParameters = [
        "textAlign": ["left", "center", "right"],
        "logoPosition": ["topLeft", "topRight", "bottomLeft", "bottomRight", "center"]
    ]
    static let parameters = textParameters + numberParameters + choiceParameters.keys.sorted() + ["template", "logo", "width", "height", "quality"]

    /// The longest title and description accepted, in characters.
    static let maxTitle = 300
    static let maxDescription = 1_000
    /// The largest side of a card served over HTTP.
    static let maxSide = 2_400

    /// - Parameters:
    ///   - format: `png`, `jpeg` or `webp`, from the path's extension.
    ///   - version: the renderer's version, part of the key.
    init(query: String, format: String, version: String) throws(APIError) {
        try self.init(parameters: try Self.parameters(of: query), format: format, version: version)
    }

    /// The query's parameters, or a 400 naming the one that is malformed or given twice.
    static func parameters(of query: String) throws(APIError) -> [String: String] {
        do { return try QueryString.parse(query) } catch {
            switch error {
            case .malformed(let name):
                throw APIError.badRequest("the query parameter \(OffloadError.quote(name)) is not valid percent-encoded UTF-8", field: name)
            case .repeated(let name): throw APIError.badRequest("the query parameter \(OffloadError.quote(name)) is given twice", field: name)
            }
        }
    }

    /// - Parameters:
    ///   - parameters: the query's, without the signature's (`sig`, `expires`).
    init(parameters: [String: String], format: String, version: String) throws(APIError) {
        var values = parameters
        if let unknown = values.keys.sorted().first(where: { !Self.parameters.contains($0) }) {
            let hint = JSONValueDecoder.suggestion(for: unknown, among: Self.parameters)
            throw APIError.badRequest("unknown query parameter \(OffloadError.quote(unknown))\(hint)", field: unknown)
        }
        // An empty text (a form's blank field) is one not given; an empty number, colour or choice is an error.
        values = values.filter { !(["description", "fontFamily", "logo"].contains($0.key) && $0.value.isEmpty) }
        guard let title = values["title"], !title.allSatisfy(\.isWhitespace) else {
            throw APIError.badRequest("title is required (GET /og.png?title=Hello)", field: "title")
        }
        guard title.count <= Self.maxTitle else { throw APIError.badRequest("title is longer than \(Self.maxTitle) characters", field: "title") }
        if let description = values["description"], description.count > Self.maxDescription {
            throw APIError.badRequest("description is longer than \(Self.maxDescription) characters", field: "description")
        }
        var template = CardTemplate.named("default")!
        if let name = values["template"] {
            guard let named = CardTemplate.named(name) else {
                throw APIError.badRequest(
                    "unknown template \(OffloadError.quote(name)) (known: \(CardTemplate.all.map(\.name).joined(separator: ", ")))", field: "template"
                )
            }
            template = named
        }
        var params = template.params
        var background = template.background
        for name in Self.textParameters {
            guard let value = values[name] else { continue }
            guard value.utf8.count <= 2_000 else { throw APIError.badRequest("\(name) is too long", field: name) }
            if name.hasSuffix("Color") && !Self.isColour(value) {
                throw APIError.badRequest(
                    "\(name) must be #rgb, #rgba, #rrggbb, #rrggbbaa or a CSS colour name, not \(OffloadError.quote(value))", field: name)
            }
            params[name] = .string(value)
            if name == "backgroundColor" { background = nil }
        }
        for name in Self.numberParameters {
            guard let text = values[name] else { continue }
            let least: Double = name == "padding" ? 0 : 4
            guard let number = Double(text), number.isFinite, number >= least, number <= 1_000 else {
                throw APIError.badRequest("\(name) must be a number from \(Int(least)) to 1000, not \(OffloadError.quote(text))", field: name)
            }
            params[name] = .double(number)
        }
        for (name, choices) in Self.choiceParameters {
            guard let value = values[name] else { continue }
            guard choices.contains(value) else {
                throw APIError.badRequest("\(name) must be one of \(choices.joined(separator: ", ")), not \(OffloadError.quote(value))", field: name)
            }
            params[name] = .string(value)
        }
        var logoIdentity = "none"
        if let logo = values["logo"] {
            guard !logo.isEmpty, !logo.contains("://"), !logo.hasPrefix("data:") else {
                throw APIError.badRequest("logo names a picture file in one of the service's allowed folders (no URL)", field: "logo")
            }
            params["logoUrl"] = .string(logo)
            logoIdentity = Self.identity(ofFile: logo)
            hasLogo = true
        }
        var dimensions: [(key: String, value: JSONValue)] = [("width", .int(1200)), ("height", .int(630))]
        for (index, name) in ["width", "height"].enumerated() {
            guard let text = values[name] else { continue }
            guard let side = Int(text), (1...Self.maxSide).contains(side) else {
                throw APIError.badRequest(
                    "\(name) must be a whole number of pixels from 1 to \(Self.maxSide), not \(OffloadError.quote(text))", field: name)
            }
            dimensions[index].value = .int(Int64(side))
        }
        // Padding that leaves no room for the text is reduced until it does.
        if case .double(let padding)? = params["padding"], case .int(let width) = dimensions[0].value, case .int(let height) = dimensions[1].value {
            params["padding"] = .double(min(padding, (Double(min(width, height)) - 1) / 2))
        }
        var members: [(key: String, value: JSONValue)] = [
            ("params", .object(params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
            ("outputFormat", .string(format)),
            ("dimensions", .object(dimensions))
        ]
        if let background { members.append(("background", background)) }
        if let text = values["quality"] {
            guard format != "png" else { throw APIError.badRequest("quality applies to .jpg and .webp cards only", field: "quality") }
            guard let quality = Int(text), (1...100).contains(quality) else {
                throw APIError.badRequest("quality must be a whole number from 1 to 100, not \(OffloadError.quote(text))", field: "quality")
            }
            members.append(("quality", .int(Int64(quality))))
        }
        payload = .object(members)
        self.format = format
        var canonical: [UInt8] = Array("offload-card/\(version)\n\(logoIdentity)\n".utf8)
        JSONWriter.write(payload, into: &canonical)
        key = SHA256.hex(canonical)
    }

    /// The colour names a card's URL may give: the document's `Colour` schema lists them.
    static let colourNames: Set<String> = {
        guard let document = try? JSONParser.parse(PackageResources.openapi_json),
            case .array(let choices)? = document["components"]?["schemas"]?["Colour"]?["anyOf"]
        else { return [] }
        return Set(
            choices.compactMap { choice -> [String]? in
                guard case .array(let names)? = choice["enum"] else { return nil }
                return names.compactMap(\.stringValue)
            }.joined())
    }()

    /// `#` and 3, 4, 6 or 8 hex digits, or a colour name.
    static func isColour(_ text: String) -> Bool {
        if text.hasPrefix("#") {
            let digits = text.utf8.dropFirst()
            return [3, 4, 6, 8].contains(digits.count)
                && digits.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
        }
        return colourNames.contains(text)
    }

    /// What tells a file's versions apart without reading it.
    static func identity(ofFile path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "missing:\(path)" }
        return "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
    }

    /// The query parameter a job error names (`payload.params.titleFontSize` → `titleFontSize`).
    static func field(of error: OffloadError) -> String? {
        for prefix in ["payload.params.", "payload.dimensions."] {
            guard let range = error.message.range(of: prefix) else { continue }
            let name = error.message[range.upperBound...].prefix { $0.isLetter || $0.isNumber }
            if name == "logoUrl" { return "logo" }
            return name.isEmpty ? nil : String(name)
        }
        return nil
    }
}
