import Offload

/// The looks `?template=` names: a backdrop and text colours, which the other query
/// parameters then override.
struct CardTemplate: Sendable {
    var name: String
    var params: [String: JSONValue]
    var background: JSONValue?

    static let all: [CardTemplate] = [
        CardTemplate(name: "default", params: [:], background: nil),
        CardTemplate(
            name: "midnight", params: ["textColor": "#f8fafc"],
            background: ["type": "linear", "colors": ["#0f172a", "#1e3a8a"], "angle": 135]),
        CardTemplate(
            name: "sunset", params: ["textColor": "#ffffff"],
            background: ["type": "linear", "colors": ["#f97316", "#db2777"], "angle": 135]),
        CardTemplate(
            name: "forest", params: ["textColor": "#ecfdf5"],
            background: ["type": "linear", "colors": ["#064e3b", "#059669"], "angle": 160]),
        CardTemplate(name: "paper", params: ["textColor": "#1f2937", "backgroundColor": "#faf7f0"], background: nil)
    ]

    static func named(_ name: String) -> CardTemplate? { all.first { $0.name == name } }
}
