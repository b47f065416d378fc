#if canImport(Glibc)
import Glibc
#endif
import Offload

/// One field a `transform` step writes: `{"target":"label","type":"stringFormat","template":"{name} ({country})"}`,
/// `numberFormat` (`source`, `decimals`, `grouping`), `dateFormat` (`source` as ISO 8601, epoch
/// seconds or milliseconds; `format` like `yyyy-MM-dd HH:mm`; `timeZone` `UTC`, `+02:00` or a zone name as `Europe/Paris`),
/// `regexReplace` (`source`, `pattern`, `replacement` with `$1`), `lookup` (`source`, `table`,
/// `default`), `calculation` (`expr`, see ``Expression``). A missing source gives null. A class:
/// passing one along is a single reference count, not one for each thing it holds.
public final class Transform: Sendable {
    indirect enum Kind: Sendable {
        case stringFormat([TemplatePart])
        case numberFormat(source: FieldPath, decimals: Int, grouping: Bool)
        case dateFormat(source: FieldPath, pattern: DatePattern, zone: TimeZoneRule)
        case regexReplace(source: FieldPath, regex: CompiledRegex, replacement: String)
        case lookup(source: FieldPath, table: [String: JSONValue], fallback: JSONValue)
        case calculation(Expression)
    }

    enum TemplatePart: Sendable {
        case text(String)
        case field(FieldPath)
    }

    let target: FieldPath
    let kind: Kind

    static let types = ["stringFormat", "numberFormat", "dateFormat", "regexReplace", "lookup", "calculation"]

    private struct Raw: Decodable {
        var target: String
        var type: String
        var template: String?
        var source: String?
        var decimals: Int?
        var grouping: Bool?
        var format: String?
        var timeZone: String?
        var pattern: String?
        var replacement: String?
        var table: JSONValue?
        var `default`: JSONValue?
        var expr: String?
    }

    init(_ json: JSONValue, field: String) throws(OffloadError) {
        let raw = try JSONValueDecoder().decode(Raw.self, from: json, root: field)
        target = try FieldPath(raw.target, field: "\(field).target")
        func source() throws(OffloadError) -> FieldPath {
            guard let text = raw.source else { throw OffloadError(.invalidPayload, "\(field).source is required for type \(raw.type)") }
            return try FieldPath(text, field: "\(field).source")
        }
        func required(_ value: String?, _ name: String) throws(OffloadError) -> String {
            guard let value else { throw OffloadError(.invalidPayload, "\(field).\(name) is required for type \(raw.type)") }
            return value
        }
        switch raw.type {
        case "stringFormat":
            kind = .stringFormat(try Self.template(try required(raw.template, "template"), field: "\(field).template"))
        case "numberFormat":
            let decimals = raw.decimals ?? 2
            guard (0...20).contains(decimals) else { throw OffloadError(.invalidPayload, "\(field).decimals must be between 0 and 20") }
            kind = .numberFormat(source: try source(), decimals: decimals, grouping: raw.grouping ?? false)
        case "dateFormat":
            kind = .dateFormat(
                source: try source(), pattern: try DatePattern(try required(raw.format, "format"), field: "\(field).format"),
                zone: try TimeZoneRule(raw.timeZone ?? "UTC", field: "\(field).timeZone"))
        case "regexReplace":
            kind = .regexReplace(
                source: try source(), regex: try CompiledRegex(try required(raw.pattern, "pattern"), field: "\(field).pattern"),
                replacement: raw.replacement ?? "")
        case "lookup":
            guard case .object(let members)? = raw.table else { throw OffloadError(.invalidPayload, "\(field).table must be an object") }
            kind = .lookup(
                source: try source(), table: Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
                fallback: raw.default ?? .null)
        case "calculation":
            kind = .calculation(try Expression(parsing: try required(raw.expr, "expr"), field: "\(field).expr"))
        default:
            throw OffloadError(.invalidPayload, "\(field).type '\(raw.type)' is not one of \(Self.types.joined(separator: ", "))")
        }
    }

    /// `{path}` placeholders between text; `{{` and `}}` write braces.
    private static func template(_ text: String, field: String) throws(OffloadError) -> [TemplatePart] {
        var parts: [TemplatePart] = []
        var literal = ""
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            if (character == "{" && next == "{") || (character == "}" && next == "}") {
                literal.append(character)
                index += 2
                continue
            }
            guard character == "{" else {
                literal.append(character)
                index += 1
                continue
            }
            guard let close = characters[index...].firstIndex(of: "}") else {
                throw OffloadError(.invalidPayload, "\(field): '{' without a closing '}'")
            }
            if !literal.isEmpty { parts.append(.text(literal)) }
            literal = ""
            parts.append(.field(try FieldPath(String(characters[(index + 1)..<close]), field: field)))
            index = close + 1
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        return parts
    }

    /// The fields the transform reads.
    var paths: [FieldPath] {
        switch kind {
        case .stringFormat(let parts): parts.compactMap { if case .field(let path) = $0 { path } else { nil } }
        case .numberFormat(let source, _, _), .dateFormat(let source, _, _), .regexReplace(let source, _, _), .lookup(let source, _, _): [source]
        case .calculation(let expression): expression.paths
        }
    }

    /// Writes the transform's value into `record`.
    func apply(to record: inout JSONValue, stop: () -> Bool = { false }) {
        var memo = TransformMemo()
        apply(to: &record, memo: &memo, key: 0, stop: stop)
    }

    /// Writes the transform's value into `record`, reusing a regular expression's earlier result
    /// for the same text from `memo` under `key` (one per transform of a pipeline).
    func apply(to record: inout JSONValue, memo: inout TransformMemo, key: Int, stop: () -> Bool = { false }) {
        let made = value(memo: &memo, key: key, stop: stop) { [record] in $0.value(in: record) }
        target.set(made, in: &record)
    }

    /// The transform's value for the record whose value at a path `field` gives. `stop` is asked
    /// during a long regular-expression match, which ends (the text unchanged) once it says yes.
    func value(memo: inout TransformMemo, key: Int, stop: () -> Bool = { false }, _ field: (FieldPath) -> JSONValue?) -> JSONValue {
        switch kind {
        case .stringFormat(let parts):
            var text = ""
            for part in parts {
                switch part {
                case .text(let literal): text += literal
                case .field(let path): text += field(path).map(Self.plain) ?? ""
                }
            }
            return .string(text)
        case .numberFormat(let source, let decimals, let grouping):
            guard let number = field(source)?.doubleValue, number.isFinite else { return .null }
            return .string(Self.format(number, decimals: decimals, grouping: grouping))
        case .dateFormat(let source, let pattern, let zone):
            guard let value = field(source) else { return .null }
            let seconds: Double? =
                switch value {
                case .string(let text): ISO8601.parse(text)
                // Epoch milliseconds from 100,000,000,000 (March 1973 in ms; year 5138 in seconds).
                case .int, .double: value.doubleValue.map { abs($0) >= 1e11 ? $0 / 1000 : $0 }
                default: nil
                }
            // Outside the years 1–9999, a time is not a date to format.
            guard let seconds, DatePattern.supportedSeconds.contains(seconds) else { return .null }
            let local = seconds + Double(zone.offset(at: seconds))
            return .string(memo.date(key, pattern.unitOfLocalTime(local)) { pattern.format(local, offsetSeconds: 0) })
        case .regexReplace(let source, let regex, let replacement):
            guard case .string(let text)? = field(source) else { return .null }
            return .string(memo.value(key, text) { regex.replacing(in: text, with: replacement, stop: stop) })
        case .lookup(let source, let table, let fallback):
            guard let key = field(source) else { return fallback }
            return table[Self.plain(key)] ?? fallback
        case .calculation(let expression):
            return expression.evaluate(field)
        }
    }

    /// A value as text in a template: strings bare, numbers shortest, others as JSON.
    static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number):
            return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        default:
            return JSONWriter.string(value)
        }
    }

    /// Fixed decimals, rounded half away from zero, with an optional comma every three digits.
    /// Past 2^53 (where a `Double` holds no fraction to round), the exact digits of the number.
    static func format(_ number: Double, decimals: Int, grouping: Bool) -> String {
        guard number.isFinite else { return "" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(number) * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9e15 else { return exact(number, decimals: decimals, grouping: grouping) }
        let whole = (scaled / scale).rounded(.down)
        let fraction = scaled - whole * scale
        var integer = String(format: whole)
        if grouping {
            var grouped = ""
            for (index, character) in integer.reversed().enumerated() {
                if index > 0 && index % 3 == 0 { grouped.append(",") }
                grouped.append(character)
            }
            integer = String(grouped.reversed())
        }
        var text = (number < 0 && scaled > 0 ? "-" : "") + integer
        if decimals > 0 {
            let digits = String(format: fraction)
            text += "." + String(repeating: "0", count: max(0, decimals - digits.count)) + digits
        }
        return text
    }
}

extension Transform {
    /// `number` with `decimals` decimals from the C library's exact conversion (up to 309 digits).
    private static func exact(_ number: Double, decimals: Int, grouping: Bool) -> String {
        var buffer = [CChar](repeating: 0, count: 400)
        let count = withVaList([Int32(decimals), number]) { vsnprintf(&buffer, buffer.count, "%.*f", $0) }
        var text = String(decoding: buffer.prefix(max(0, min(Int(count), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard grouping else { return text }
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        let parts = text.split(separator: ".", maxSplits: 1)
        var grouped = ""
        for (index, character) in parts[0].reversed().enumerated() {
            if index > 0 && index % 3 == 0 { grouped.append(",") }
            grouped.append(character)
        }
        return (negative ? "-" : "") + String(grouped.reversed()) + (parts.count > 1 ? "." + parts[1] : "")
    }
}

private extension String {
    /// The digits of a whole, non-negative `Double` below 9e15.
    init(format whole: Double) {
        self = String(UInt64(whole))
    }
}

/// Results of a costly transform by input text, for one pass over the records (never shared
/// between threads): a field of repeated values (countries, statuses, paths) is matched once per
/// distinct value. Each transform keeps at most ``limit`` texts; past that, new ones are computed.
struct TransformMemo {
    static let limit = 4_096
    private var tables: [Int: [String: String]] = [:]
    private var lastDates: [Int: (unit: Int64, text: String)] = [:]

    /// A date's text, reused while records keep to the same unit of the finest field the
    /// pattern shows (the same minute for `HH:mm`): records often come in time order.
    mutating func date(_ key: Int, _ unit: Int64?, _ make: () -> String) -> String {
        guard let unit else { return make() }
        if let last = lastDates[key], last.unit == unit { return last.text }
        let made = make()
        lastDates[key] = (unit, made)
        return made
    }

    mutating func value(_ key: Int, _ text: String, _ make: () -> String) -> String {
        if let known = tables[key]?[text] { return known }
        let made = make()
        if tables[key, default: [:]].count < Self.limit { tables[key, default: [:]][text] = made }
        return made
    }
}
