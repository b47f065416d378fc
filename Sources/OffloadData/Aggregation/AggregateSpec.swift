public import Offload

/// One aggregate of a `group` or `aggregate` step: `{"fn":"sum","field":"amount","as":"total"}`
/// (`percentile` takes `"p":95`). Missing and null values are left out, as SQL does.
public struct AggregateSpec: Sendable {
    public enum Function: String, Sendable, CaseIterable {
        case count, sum, avg, min, max, median, percentile, stddev, variance, unique, first, last
    }

    public var function: Function
    /// `nil` only for `count` (every record).
    public var field: FieldPath?
    public var name: String
    /// 0…100, for `percentile`.
    public var percentile: Double?

    struct Raw: Decodable {
        var fn: String
        var field: String?
        var `as`: String?
        var p: Double?
    }

    public init(_ json: JSONValue, field: String) throws(OffloadError) {
        let raw = try JSONValueDecoder().decode(Raw.self, from: json, root: field)
        guard let function = Function(rawValue: raw.fn) else {
            throw OffloadError(.invalidPayload, "\(field).fn '\(raw.fn)' is not one of \(Function.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.function = function
        if let path = raw.field {
            self.field = try FieldPath(path, field: "\(field).field")
        } else if function != .count {
            throw OffloadError(.invalidPayload, "\(field).field is required for fn \(raw.fn)")
        }
        name = raw.as ?? (raw.field.map { "\(raw.fn)_\($0)" } ?? raw.fn)
        if function == .percentile {
            guard let p = raw.p, p.isFinite, (0...100).contains(p) else {
                throw OffloadError(.invalidPayload, "\(field).p must be between 0 and 100 for fn percentile")
            }
            percentile = p
        } else if raw.p != nil {
            throw OffloadError(.invalidPayload, "\(field).p is only for fn percentile")
        }
    }
}
