/// Prints the JSON lines a suite reports.
enum Report {
    static func line(_ fields: [(String, JSONField)]) {
        let body = fields.map { "\"\($0.0)\":\($0.1.text)" }.joined(separator: ",")
        print("{\(body)}")
    }

    static func summary(suite: String, figure: String, ours: Double, peer: Double?, ratio: Double?, goal: String, unit: String) {
        line([
            ("suite", .string(suite)), ("figure", .string(figure)), ("unit", .string(unit)),
            ("ours", .number(ours)), ("peer", peer.map(JSONField.number) ?? .null),
            ("ratio", ratio.map(JSONField.number) ?? .null), ("goal", .string(goal))
        ])
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}

enum JSONField {
    case string(String)
    case number(Double)
    case int(Int)
    case null

    var text: String {
        switch self {
        case .string(let value): "\"\(value)\""
        case .number(let value): value.isFinite ? String(format3(value)) : "null"
        case .int(let value): String(value)
        case .null: "null"
        }
    }

    private func format3(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return scaled == scaled.rounded() && abs(scaled) < 1e15 ? String(Int64(scaled)) : String(scaled)
    }
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double { Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15 }
}
