import Foundation

/// The Prometheus text exposition format (version 0.0.4), written family by family: each
/// family's `# HELP` and `# TYPE` once, then its samples. Label values are escaped as the format
/// says (`\\`, `\"`, `\n`), so a job kind or a route cannot break a line.
struct MetricsText {
    enum Kind: String {
        case counter, gauge, histogram
    }

    private(set) var bytes: [UInt8] = []

    /// Starts a family. Names follow the conventions `promtool check metrics` checks: counters
    /// end in `_total`, units are base units named last (`_seconds`, `_bytes`).
    mutating func family(_ name: String, _ kind: Kind, _ help: String) {
        bytes += Array("# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n".utf8)
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        bytes += Array(name.utf8)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            for (index, label) in labels.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes += Array("\(label.0)=\"\(Self.escapeValue(label.1))\"".utf8)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes += Array(" \(Self.format(value))\n".utf8)
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Int) {
        sample(name, labels, Double(value))
    }

    /// A histogram's buckets (cumulative, `le` last among the labels), `_sum` and `_count`.
    mutating func histogram(_ name: String, _ labels: [(String, String)], _ reading: Histogram.Reading) {
        var cumulative = 0
        for (bound, count) in zip(Histogram.bounds, reading.counts) {
            cumulative += count
            sample(name + "_bucket", labels + [("le", Self.format(bound))], cumulative)
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], reading.count)
        sample(name + "_sum", labels, reading.sum)
        sample(name + "_count", labels, reading.count)
    }

    mutating func append(_ other: [UInt8]) { bytes += other }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private static func escapeValue(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
