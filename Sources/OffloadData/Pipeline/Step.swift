public import Offload

/// One step of a `data` pipeline, as its JSON names it by `op`.
public enum Step: Sendable {
    case filter(Predicate)
    case transform([Transform])
    case group(by: [FieldPath], aggregates: [AggregateSpec])
    case aggregate([AggregateSpec])
    case sort([SortKey])
    case limit(Int)
    case select([FieldPath])

    public struct SortKey: Sendable {
        public var field: FieldPath
        public var descending: Bool
    }

    static let ops = ["filter", "transform", "group", "aggregate", "sort", "limit", "select"]

    /// The fields a pipeline reads from its input records, when it never outputs them whole
    /// (it selects, groups or aggregates before anything else needs a whole record); `nil` otherwise.
    static func neededPaths(_ steps: [Step]) -> [FieldPath]? {
        var paths: [FieldPath] = []
        for step in steps {
            switch step {
            case .filter(let predicate): paths += predicate.paths
            case .transform(let transforms): paths += transforms.flatMap(\.paths)
            case .limit: continue
            case .select(let selected): return paths + selected
            case .group(let by, let aggregates): return paths + by + aggregates.compactMap(\.field)
            case .aggregate(let aggregates): return paths + aggregates.compactMap(\.field)
            case .sort: return nil
            }
        }
        return nil
    }

    /// The step's `op`.
    var name: String {
        switch self {
        case .filter: "filter"
        case .transform: "transform"
        case .group: "group"
        case .aggregate: "aggregate"
        case .sort: "sort"
        case .limit: "limit"
        case .select: "select"
        }
    }

    /// Whether records can pass through the step one at a time.
    var isStreaming: Bool {
        switch self {
        case .filter, .transform, .select, .limit: true
        case .group, .aggregate, .sort: false
        }
    }

    private struct FilterStep: Decodable {
        var op: String
        var `where`: JSONValue
    }
    private struct TransformStep: Decodable {
        var op: String
        var fields: [JSONValue]
    }
    private struct GroupStep: Decodable {
        var op: String
        var by: [String]
        var aggregates: [JSONValue]
    }
    private struct AggregateStep: Decodable {
        var op: String
        var aggregates: [JSONValue]
    }
    private struct SortStep: Decodable {
        struct Key: Decodable {
            var field: String
            var order: String?
        }
        var op: String
        var by: [Key]
    }
    private struct LimitStep: Decodable {
        var op: String
        var n: Int
    }
    private struct SelectStep: Decodable {
        var op: String
        var fields: [String]
    }

    /// Reads the step at `field` (as `payload.pipeline[2]`).
    public init(_ json: JSONValue, field: String) throws(OffloadError) {
        guard case .string(let op)? = json["op"] else {
            throw OffloadError(.invalidPayload, "\(field).op must be one of \(Self.ops.joined(separator: ", "))")
        }
        let decoder = JSONValueDecoder()
        func aggregates(_ items: [JSONValue]) throws(OffloadError) -> [AggregateSpec] {
            guard !items.isEmpty else { throw OffloadError(.invalidPayload, "\(field).aggregates must not be empty") }
            var specs: [AggregateSpec] = []
            for (index, item) in items.enumerated() { specs.append(try AggregateSpec(item, field: "\(field).aggregates[\(index)]")) }
            return specs
        }
        func paths(_ texts: [String], _ name: String) throws(OffloadError) -> [FieldPath] {
            guard !texts.isEmpty else { throw OffloadError(.invalidPayload, "\(field).\(name) must not be empty") }
            var result: [FieldPath] = []
            for (index, text) in texts.enumerated() { result.append(try FieldPath(text, field: "\(field).\(name)[\(index)]")) }
            return result
        }
        switch op {
        case "filter":
            let step = try decoder.decode(FilterStep.self, from: json, root: field)
            self = .filter(try Predicate(step.where, field: "\(field).where"))
        case "group":
            let step = try decoder.decode(GroupStep.self, from: json, root: field)
            self = .group(by: try paths(step.by, "by"), aggregates: try aggregates(step.aggregates))
        case "aggregate":
            self = .aggregate(try aggregates(try decoder.decode(AggregateStep.self, from: json, root: field).aggregates))
        case "sort":
            let step = try decoder.decode(SortStep.self, from: json, root: field)
            guard !step.by.isEmpty else { throw OffloadError(.invalidPayload, "\(field).by must not be empty") }
            var keys: [SortKey] = []
            for (index, key) in step.by.enumerated() {
                guard ["asc", "desc", nil].contains(key.order) else {
                    throw OffloadError(.invalidPayload, "\(field).by[\(index)].order must be asc or desc")
                }
                keys.append(SortKey(field: try FieldPath(key.field, field: "\(field).by[\(index)].field"), descending: key.order == "desc"))
            }
            self = .sort(keys)
        case "limit":
            let step = try decoder.decode(LimitStep.self, from: json, root: field)
            guard step.n >= 0 else { throw OffloadError(.invalidPayload, "\(field).n must not be negative") }
            self = .limit(step.n)
        case "select":
            self = .select(try paths(try decoder.decode(SelectStep.self, from: json, root: field).fields, "fields"))
        case "transform":
            let step = try decoder.decode(TransformStep.self, from: json, root: field)
            guard !step.fields.isEmpty else { throw OffloadError(.invalidPayload, "\(field).fields must not be empty") }
            var transforms: [Transform] = []
            for (index, item) in step.fields.enumerated() { transforms.append(try Transform(item, field: "\(field).fields[\(index)]")) }
            self = .transform(transforms)
        default:
            let near = Self.ops.first { $0.lowercased() == op.lowercased() }
            throw OffloadError(
                .invalidPayload,
                "\(field).op '\(op)' is not one of \(Self.ops.joined(separator: ", "))\(near.map { " (did you mean '\($0)'?)" } ?? "")")
        }
    }
}
