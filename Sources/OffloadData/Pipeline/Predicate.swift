public import Offload

/// A condition on a record: `{"field":"a.b","cmp":"gt","value":3}`, or `{"all":[…]}`,
/// `{"any":[…]}`, `{"not":…}`. Numbers compare as numbers, strings as strings; a comparison
/// between a missing field or values of different types is false.
public indirect enum Predicate: Sendable {
    public enum Comparison: String, Sendable, CaseIterable {
        case eq, ne, gt, gte, lt, lte, contains, startsWith, endsWith, regex, `in`, exists
    }

    case compare(FieldPath, Comparison, JSONValue, CompiledRegex?)
    case all([Predicate])
    case any([Predicate])
    case not(Predicate)

    /// The deepest `all`/`any`/`not` may nest.
    public static let maxDepth = 64

    /// Reads a condition at `field` (as `payload.pipeline[0].where`).
    public init(_ json: JSONValue, field: String) throws(OffloadError) {
        try self.init(json, field: field, depth: 0)
    }

    private init(_ json: JSONValue, field: String, depth: Int) throws(OffloadError) {
        guard depth < Self.maxDepth else {
            throw OffloadError(.invalidPayload, "\(field): conditions nest deeper than \(Self.maxDepth) levels")
        }
        guard case .object(let members) = json, members.count >= 1 else {
            throw OffloadError(
                .invalidPayload, "\(field) must be an object: {\"field\",\"cmp\",\"value\"}, {\"all\":[…]}, {\"any\":[…]} or {\"not\":…}")
        }
        if members.count == 1, ["all", "any", "not"].contains(members[0].key) {
            let (key, value) = (members[0].key, members[0].value)
            if key == "not" {
                self = .not(try Predicate(value, field: "\(field).not", depth: depth + 1))
                return
            }
            guard case .array(let items) = value, !items.isEmpty else {
                throw OffloadError(.invalidPayload, "\(field).\(key) must be a non-empty array of conditions")
            }
            var predicates: [Predicate] = []
            for (index, item) in items.enumerated() { predicates.append(try Predicate(item, field: "\(field).\(key)[\(index)]", depth: depth + 1)) }
            self = key == "all" ? .all(predicates) : .any(predicates)
            return
        }
        for member in members where !["field", "cmp", "value"].contains(member.key) {
            throw OffloadError(
                .invalidPayload, "\(field): unknown key \(OffloadError.quote(member.key)) (a condition has field, cmp and value, or is all/any/not)")
        }
        guard case .string(let path)? = json["field"] else { throw OffloadError(.invalidPayload, "\(field).field must be a field path string") }
        guard case .string(let name)? = json["cmp"], let comparison = Comparison(rawValue: name) else {
            throw OffloadError(.invalidPayload, "\(field).cmp must be one of \(Comparison.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard comparison == .exists || json["value"] != nil else {
            throw OffloadError(.invalidPayload, "\(field).value is required for cmp \(name)")
        }
        let value = json["value"] ?? .bool(true)
        var regex: CompiledRegex?
        switch comparison {
        case .regex:
            guard case .string(let pattern) = value else { throw OffloadError(.invalidPayload, "\(field).value must be a regular expression string") }
            regex = try CompiledRegex(pattern, field: "\(field).value")
        case .in:
            guard case .array = value else { throw OffloadError(.invalidPayload, "\(field).value must be an array for cmp in") }
        case .exists:
            guard case .bool = value else { throw OffloadError(.invalidPayload, "\(field).value must be true or false for cmp exists") }
        case .startsWith, .endsWith:
            guard case .string = value else { throw OffloadError(.invalidPayload, "\(field).value must be a string for cmp \(name)") }
        default:
            break
        }
        self = .compare(try FieldPath(path, field: "\(field).field"), comparison, value, regex)
    }

    /// The fields the condition reads.
    package var paths: [FieldPath] {
        switch self {
        case .compare(let path, _, _, _): [path]
        case .all(let predicates), .any(let predicates): predicates.flatMap(\.paths)
        case .not(let predicate): predicate.paths
        }
    }

    /// Whether `record` matches; `stop` is asked during a long regular-expression match, which
    /// ends (unmatched) once it says yes.
    public func matches(_ record: JSONValue, stop: () -> Bool = { false }) -> Bool {
        matches({ $0.value(in: record) }, stop: stop)
    }

    /// Whether the record whose value at a path `value` gives matches.
    package func matches(_ value: (FieldPath) -> JSONValue?, stop: () -> Bool = { false }) -> Bool {
        switch self {
        case .all(let predicates): return predicates.allSatisfy { $0.matches(value, stop: stop) }
        case .any(let predicates): return predicates.contains { $0.matches(value, stop: stop) }
        case .not(let predicate): return !predicate.matches(value, stop: stop)
        case .compare(let path, let comparison, let expected, let regex):
            let found = value(path)
            if comparison == .exists { return (found != nil) == (expected == .bool(true)) }
            guard let actual = found else { return false }
            switch comparison {
            case .eq: return actual == expected
            case .ne: return actual != expected
            case .gt, .gte, .lt, .lte:
                guard let order = ValueOrder.compare(actual, expected) else { return false }
                return switch comparison {
                case .gt: order > 0
                case .gte: order >= 0
                case .lt: order < 0
                default: order <= 0
                }
            case .contains:
                switch (actual, expected) {
                case (.string(let text), .string(let part)): return text.contains(part)
                case (.array(let items), _): return items.contains(expected)
                default: return false
                }
            case .startsWith:
                guard case .string(let text) = actual, case .string(let prefix) = expected else { return false }
                return text.hasPrefix(prefix)
            case .endsWith:
                guard case .string(let text) = actual, case .string(let suffix) = expected else { return false }
                return text.hasSuffix(suffix)
            case .regex:
                guard case .string(let text) = actual, let regex else { return false }
                return regex.matches(text, stop: stop)
            case .in:
                guard case .array(let options) = expected else { return false }
                return options.contains(actual)
            case .exists:
                return true
            }
        }
    }
}

/// The order of two JSON values of the same kind: numbers by value, strings by their Unicode
/// scalars, booleans false before true; `nil` for values that do not compare.
enum ValueOrder {
    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if let x = a.doubleValue, let y = b.doubleValue { return x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        default: return nil
        }
    }
}
