import Offload

/// One of the 13 `CanvasFilter`s, applied to the whole card in the order given, with the colour
/// results of the CSS filter functions (computed in sRGB, as browsers do).
///
/// JSON: `{"type":"blur","radius":4}`, `{"type":"brightness","value":0.2}` (−1…1, CSS
/// `brightness(1.2)`), `contrast` and `saturation` likewise, `{"type":"hueRotate","degrees":90}`,
/// `{"type":"grayscale","amount":1}` (0…1; `sepia`, `invert`, `opacity` likewise),
/// `{"type":"dropShadow","offsetX":4,"offsetY":4,"blurRadius":8,"color":"#0008","spread":0}`,
/// `{"type":"glow","color":"#fff","radius":10,"intensity":1}`,
/// `{"type":"emboss","strength":1,"direction":135,"height":1}`, `{"type":"sharpen","strength":1,"radius":1}`.
public enum CanvasFilter: Sendable, Hashable {
    case blur(radius: Double)
    case brightness(Double)
    case contrast(Double)
    case saturation(Double)
    case hueRotate(degrees: Double)
    case grayscale(Double)
    case sepia(Double)
    case invert(Double)
    case opacity(Double)
    case dropShadow(offsetX: Double, offsetY: Double, blurRadius: Double, color: CSSColor, spread: Double)
    case glow(color: CSSColor, radius: Double, intensity: Double)
    case emboss(strength: Double, direction: Double, height: Double)
    case sharpen(strength: Double, radius: Double)

    static let names = [
        "blur", "brightness", "contrast", "saturation", "hueRotate", "grayscale", "sepia", "invert",
        "opacity", "dropShadow", "glow", "emboss", "sharpen"
    ]

    /// Reads the filter at `field` (as `payload.filters[2]`).
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming the field, for an unknown type, an
    ///   unknown key or a value out of range.
    init(_ json: JSONValue, field: String) throws(OffloadError) {
        guard case .string(let type)? = json["type"] else {
            throw OffloadError(.invalidPayload, "\(field).type must be one of \(Self.names.joined(separator: ", "))")
        }
        let decoder = JSONValueDecoder()
        func range(_ value: Double, _ bounds: ClosedRange<Double>, _ name: String) throws(OffloadError) -> Double {
            guard value.isFinite, bounds.contains(value) else {
                throw OffloadError(.invalidPayload, "\(field).\(name) must be between \(bounds.lowerBound) and \(bounds.upperBound) (got \(value))")
            }
            return value
        }
        switch type {
        case "blur":
            let blur = try decoder.decode(Blur.self, from: json, root: field)
            self = .blur(radius: try range(blur.radius, 0...200, "radius"))
        case "brightness", "contrast", "saturation":
            let value = try range(try decoder.decode(Adjust.self, from: json, root: field).value, -1...1, "value")
            self = type == "brightness" ? .brightness(value) : type == "contrast" ? .contrast(value) : .saturation(value)
        case "hueRotate":
            self = .hueRotate(degrees: try range(try decoder.decode(HueRotate.self, from: json, root: field).degrees, -360...360, "degrees"))
        case "grayscale", "sepia", "invert", "opacity":
            let amount = try range(try decoder.decode(Amount.self, from: json, root: field).amount, 0...1, "amount")
            self =
                switch type {
                case "grayscale": .grayscale(amount)
                case "sepia": .sepia(amount)
                case "invert": .invert(amount)
                default: .opacity(amount)
                }
        case "dropShadow":
            let shadow = try decoder.decode(DropShadow.self, from: json, root: field)
            self = .dropShadow(
                offsetX: try range(shadow.offsetX, -1000...1000, "offsetX"), offsetY: try range(shadow.offsetY, -1000...1000, "offsetY"),
                blurRadius: try range(shadow.blurRadius, 0...200, "blurRadius"),
                color: try CSSColor(parsing: shadow.color, field: "\(field).color"), spread: try range(shadow.spread ?? 0, 0...100, "spread"))
        case "glow":
            let glow = try decoder.decode(Glow.self, from: json, root: field)
            self = .glow(
                color: try CSSColor(parsing: glow.color, field: "\(field).color"), radius: try range(glow.radius, 0...200, "radius"),
                intensity: try range(glow.intensity ?? 1, 0...4, "intensity"))
        case "emboss":
            let emboss = try decoder.decode(Emboss.self, from: json, root: field)
            self = .emboss(
                strength: try range(emboss.strength, 0...10, "strength"), direction: try range(emboss.direction ?? 135, 0...360, "direction"),
                height: try range(emboss.height ?? 1, 0...10, "height"))
        case "sharpen":
            let sharpen = try decoder.decode(Sharpen.self, from: json, root: field)
            self = .sharpen(strength: try range(sharpen.strength, 0...10, "strength"), radius: try range(sharpen.radius ?? 1, 0.5...20, "radius"))
        default:
            let near = Self.names.first { $0.lowercased() == type.lowercased() }
            throw OffloadError(
                .invalidPayload,
                "\(field).type '\(type)' is not a filter\(near.map { " (did you mean '\($0)'?)" } ?? "") — one of \(Self.names.joined(separator: ", "))"
            )
        }
    }

    private struct Blur: Decodable {
        var type: String
        var radius: Double
        var quality: String?
    }
    private struct Adjust: Decodable {
        var type: String
        var value: Double
    }
    private struct HueRotate: Decodable {
        var type: String
        var degrees: Double
    }
    private struct Amount: Decodable {
        var type: String
        var amount: Double
    }
    private struct DropShadow: Decodable {
        var type: String
        var offsetX: Double
        var offsetY: Double
        var blurRadius: Double
        var color: String
        var spread: Double?
    }
    private struct Glow: Decodable {
        var type: String
        var color: String
        var radius: Double
        var intensity: Double?
        var quality: String?
    }
    private struct Emboss: Decodable {
        var type: String
        var strength: Double
        var direction: Double?
        var height: Double?
    }
    private struct Sharpen: Decodable {
        var type: String
        var strength: Double
        var radius: Double?
    }
}
