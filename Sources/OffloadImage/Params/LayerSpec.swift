import Offload

/// One layer drawn over the card, in `zIndex` order (the card's logo, title and description sit
/// at z 0; layers at the same z come after them, negative ones go beneath):
/// - `{"type":"text","content":"…","x":64,"y":480,"maxWidth":600,"fontSize":28,"color":"#fff",
///   "fontFamily":"Inter","fontWeight":700,"lineHeight":1.2,"letterSpacing":0.5,"maxLines":2,
///   "textAlign":"left","gradient":{…},"shadow":{…},"outline":{…}}`
/// - `{"type":"image","src":"logo.png","x":0,"y":0,"width":100,"height":100,"opacity":1,"blendMode":"multiply"}`
/// - `{"type":"shape","shapeType":"rectangle|circle|line","x":…,"y":…,"width":…,"height":…,
///   "fillColor":"…","strokeColor":"…","strokeWidth":2,"cornerRadius":12,"x2":…,"y2":…}`
/// Any layer may carry `filters`, applied to that layer alone.
public struct LayerSpec: Sendable, Hashable {
    public enum Content: Sendable, Hashable {
        case text(TextLayer)
        case image(ImageLayer)
        case shape(ShapeLayer)
    }

    public struct TextLayer: Sendable, Hashable {
        public var content: String
        public var x, y, maxWidth: Double
        public var fontFamily: String
        public var fontSize: Double
        public var bold: Bool
        public var color: CSSColor
        public var lineHeight: Double
        public var letterSpacing: Double
        public var maxLines: Int
        public var textAlign: TextAlign
        public var gradient: CardSpec.Gradient?
        public var shadow: CardSpec.Shadow?
        public var outline: CardSpec.Outline?
    }

    public struct ImageLayer: Sendable, Hashable {
        public var source: String
        public var x, y, width, height: Double
        public var opacity: Double
        public var blendMode: String
    }

    public struct ShapeLayer: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            case rectangle(cornerRadius: Double)
            case circle
            case line(x2: Double, y2: Double)
        }
        public var kind: Kind
        public var x, y, width, height: Double
        public var fill: CSSColor?
        public var stroke: CSSColor?
        public var strokeWidth: Double
    }

    public var content: Content
    public var zIndex: Int
    public var filters: [CanvasFilter]

    static let blendModes = [
        "normal", "multiply", "screen", "overlay", "darken", "lighten", "colorDodge", "colorBurn",
        "hardLight", "softLight", "difference", "exclusion"
    ]

    private struct Raw: Decodable {
        var type: String
        var zIndex: Int?
        var filters: [JSONValue]?
        // text
        var content: String?
        var fontFamily: String?
        var fontSize: Double?
        var fontWeight: JSONValue?
        var color: String?
        var maxWidth: Double?
        var lineHeight: Double?
        var letterSpacing: Double?
        var maxLines: Int?
        var textAlign: TextAlign?
        var gradient: TextGradient?
        var shadow: TextShadow?
        var outline: TextOutline?
        // image
        var src: String?
        var opacity: Double?
        var blendMode: String?
        // shape
        var shapeType: String?
        var fillColor: String?
        var strokeColor: String?
        var strokeWidth: Double?
        var cornerRadius: Double?
        var x2: Double?
        var y2: Double?
        // all
        var x: Double?
        var y: Double?
        var width: Double?
        var height: Double?
    }

    init(_ json: JSONValue, field: String, defaultFamily: String) throws(OffloadError) {
        let raw = try JSONValueDecoder().decode(Raw.self, from: json, root: field)
        func number(
            _ value: Double?, _ name: String, default fallback: Double? = nil, in range: ClosedRange<Double> = -100_000...100_000
        ) throws(OffloadError) -> Double {
            guard let value = value ?? fallback else { throw OffloadError(.invalidPayload, "\(field).\(name) is required for a \(raw.type) layer") }
            guard value.isFinite, range.contains(value) else {
                throw OffloadError(.invalidPayload, "\(field).\(name) must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
            }
            return value
        }
        func color(_ text: String?, _ name: String) throws(OffloadError) -> CSSColor? {
            try text.map { value throws(OffloadError) in try CSSColor(parsing: value, field: "\(field).\(name)") }
        }
        zIndex = raw.zIndex ?? 1
        var filters: [CanvasFilter] = []
        for (index, filter) in (raw.filters ?? []).enumerated() {
            filters.append(try CanvasFilter(filter, field: "\(field).filters[\(index)]"))
        }
        self.filters = filters
        switch raw.type {
        case "text":
            guard let text = raw.content, !text.isEmpty else { throw OffloadError(.invalidPayload, "\(field).content must not be empty") }
            let bold: Bool =
                switch raw.fontWeight {
                case nil, .string("normal")?: false
                case .string("bold")?: true
                case let weight?: (weight.doubleValue ?? 400) >= 600
                }
            let size = try number(raw.fontSize, "fontSize", default: 32, in: 4...1000)
            content = .text(
                TextLayer(
                    content: text, x: try number(raw.x, "x"), y: try number(raw.y, "y"),
                    maxWidth: try number(raw.maxWidth, "maxWidth", in: 1...100_000),
                    fontFamily: raw.fontFamily ?? defaultFamily, fontSize: size, bold: bold,
                    color: try color(raw.color, "color") ?? .white,
                    lineHeight: try number(raw.lineHeight, "lineHeight", default: 1.2, in: 0.5...5),
                    letterSpacing: try number(raw.letterSpacing, "letterSpacing", default: 0, in: -50...200),
                    maxLines: Int(try number(raw.maxLines.map(Double.init), "maxLines", default: 3, in: 1...100)),
                    textAlign: raw.textAlign ?? .left,
                    gradient: try raw.gradient.map { gradient throws(OffloadError) in try CardSpec.gradient(gradient, field: "\(field).gradient") },
                    shadow: try raw.shadow.map { shadow throws(OffloadError) in try CardSpec.shadow(shadow, field: "\(field).shadow") },
                    outline: try raw.outline.map { outline throws(OffloadError) in try CardSpec.outline(outline, field: "\(field).outline") }))
        case "image":
            guard let source = raw.src, !source.isEmpty else { throw OffloadError(.invalidPayload, "\(field).src is required for an image layer") }
            let blend = raw.blendMode ?? "normal"
            guard Self.blendModes.contains(blend) else {
                throw OffloadError(.invalidPayload, "\(field).blendMode '\(blend)' is not one of \(Self.blendModes.joined(separator: ", "))")
            }
            content = .image(
                ImageLayer(
                    source: source, x: try number(raw.x, "x"), y: try number(raw.y, "y"),
                    width: try number(raw.width, "width", in: 1...100_000), height: try number(raw.height, "height", in: 1...100_000),
                    opacity: try number(raw.opacity, "opacity", default: 1, in: 0...1), blendMode: blend))
        case "shape":
            let kind: ShapeLayer.Kind
            switch raw.shapeType {
            case "rectangle"?: kind = .rectangle(cornerRadius: try number(raw.cornerRadius, "cornerRadius", default: 0, in: 0...100_000))
            case "circle"?: kind = .circle
            case "line"?: kind = .line(x2: try number(raw.x2, "x2"), y2: try number(raw.y2, "y2"))
            case let other:
                throw OffloadError(
                    .invalidPayload, "\(field).shapeType \(other.map { "'\($0)'" } ?? "(missing)") is not one of rectangle, circle, line")
            }
            let isLine = if case .line = kind { true } else { false }
            let fill = try color(raw.fillColor, "fillColor")
            let stroke = try color(raw.strokeColor, "strokeColor")
            guard fill != nil || stroke != nil else {
                throw OffloadError(.invalidPayload, "\(field) needs a fillColor or a strokeColor")
            }
            content = .shape(
                ShapeLayer(
                    kind: kind, x: try number(raw.x, "x"), y: try number(raw.y, "y"),
                    width: isLine ? 0 : try number(raw.width, "width", in: 0...100_000),
                    height: isLine ? 0 : try number(raw.height, "height", in: 0...100_000),
                    fill: isLine ? nil : fill, stroke: isLine ? (stroke ?? fill) : stroke,
                    strokeWidth: try number(raw.strokeWidth, "strokeWidth", default: isLine ? 2 : 1, in: 0...1000)))
        default:
            throw OffloadError(.invalidPayload, "\(field).type '\(raw.type)' is not one of text, image, shape")
        }
    }
}
