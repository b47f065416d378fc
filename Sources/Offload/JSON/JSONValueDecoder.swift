/// Decodes `Decodable` values from a `JSONValue`, strictly: a key the type does not read is an error
/// naming the key, so that a typo in a job file fails the job instead of being silently ignored.
///
/// ```swift
/// struct Sleep: Decodable { var ms: Int }
/// let value = try JSONValueDecoder().decode(Sleep.self, from: ["ms": 10])
/// ```
public struct JSONValueDecoder: Sendable {
    /// Whether a key the decoded type does not read is ignored instead of refused: for payloads
    /// that Swift code encoded, where a newer sender may add a field an older worker does not
    /// know yet (a rolling deploy). Job files are always read strictly.
    public var ignoresUnknownKeys: Bool

    public init(ignoresUnknownKeys: Bool = false) {
        self.ignoresUnknownKeys = ignoresUnknownKeys
    }

    /// Decodes `type` from `value`. Errors are ``OffloadError/Code/invalidPayload`` and name the
    /// field by its path below `root` (`payload.layers[2].color`).
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, root: String = "payload") throws(OffloadError) -> T {
        let audit = Audit()
        let node = Node(value: value, codingPath: [], audit: audit)
        let decoded: T
        do {
            decoded = try T(from: node)
        } catch let error as OffloadError {
            throw error
        } catch let error as DecodingError {
            throw OffloadError(.invalidPayload, Self.describe(error, root: root))
        } catch {
            throw OffloadError(.invalidPayload, "\(root): \(error)")
        }
        if !ignoresUnknownKeys, let unknown = audit.firstUnknownKey() {
            let place = Self.path(unknown.path, root: root)
            throw OffloadError(
                .invalidPayload, "\(place): unknown key \(OffloadError.quote(unknown.key))\(Self.suggestion(for: unknown.key, among: unknown.known))")
        }
        return decoded
    }

    static func path(_ codingPath: [any CodingKey], root: String) -> String {
        var text = root
        for key in codingPath {
            if let index = key.intValue, key.stringValue == String(index) {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    static func describe(_ error: DecodingError, root: String) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key], root: root)) is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath, root: root)): \(context.debugDescription)"
        @unknown default:
            return "\(root): \(error)"
        }
    }

    /// " (did you mean 'x'?)" when a known key is one or two edits away.
    package static func suggestion(for key: String, among known: [String]) -> String {
        guard key.count <= 64 else { return "" }
        let scored = known.map { (name: $0, distance: editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= 2 else { return "" }
        return " (did you mean '\(best.name)'?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    // MARK: - The audit of keys read

    /// Records, per object, which keys the decoded type read.
    final class Audit {
        final class Entry {
            let path: [any CodingKey]
            let keys: [String]
            var used: Set<String> = []
            init(path: [any CodingKey], keys: [String]) {
                self.path = path
                self.keys = keys
            }
        }

        var entries: [Entry] = []

        func firstUnknownKey() -> (path: [any CodingKey], key: String, known: [String])? {
            var usedByPath: [String: Set<String>] = [:]
            for entry in entries {
                usedByPath[JSONValueDecoder.path(entry.path, root: ""), default: []].formUnion(entry.used)
            }
            for entry in entries {
                let used = usedByPath[JSONValueDecoder.path(entry.path, root: ""), default: []]
                if let key = entry.keys.first(where: { !used.contains($0) }) {
                    return (entry.path, key, Array(used).sorted())
                }
            }
            return nil
        }
    }

    // MARK: - Decoder

    final class Node: Decoder {
        let value: JSONValue
        let codingPath: [any CodingKey]
        let audit: Audit
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        init(value: JSONValue, codingPath: [any CodingKey], audit: Audit) {
            self.value = value
            self.codingPath = codingPath
            self.audit = audit
        }

        /// The raw value, for types (such as `JSONValue`) that take any JSON.
        func takeWholeValue() -> JSONValue { value }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            guard case .object(let members) = value else {
                throw DecodingError.typeMismatch(
                    [String: JSONValue].self,
                    .init(codingPath: codingPath, debugDescription: "expected an object, found \(value.typeDescription)"))
            }
            let entry = Audit.Entry(path: codingPath, keys: members.map(\.key))
            audit.entries.append(entry)
            return KeyedDecodingContainer(Keyed<Key>(members: members, node: self, entry: entry))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            guard case .array(let values) = value else {
                throw DecodingError.typeMismatch(
                    [JSONValue].self,
                    .init(codingPath: codingPath, debugDescription: "expected an array, found \(value.typeDescription)"))
            }
            return Unkeyed(values: values, node: self)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(node: self) }

        func child(_ value: JSONValue, key: any CodingKey) -> Node {
            Node(value: value, codingPath: codingPath + [key], audit: audit)
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if type == JSONValue.self { return value as! T }
            return try unbox(type) ?? T(from: self)
        }

        private func mismatch<T>(_ type: T.Type, expected: String) -> DecodingError {
            .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(describeFound())"))
        }

        private func describeFound() -> String {
            switch value {
            case .string(let text): "the string \"\(text.prefix(40))\""
            case .int(let number): "the number \(number)"
            case .double(let number): "the number \(number)"
            case .bool(let flag): "\(flag)"
            default: value.typeDescription
            }
        }

        /// Decodes the primitive types directly; `nil` for any other type.
        private func unbox<T>(_ type: T.Type) throws -> T? {
            switch type {
            case is String.Type:
                guard case .string(let text) = value else { throw mismatch(type, expected: "a string") }
                return (text as! T)
            case is Bool.Type:
                guard case .bool(let flag) = value else { throw mismatch(type, expected: "a boolean") }
                return (flag as! T)
            case is Double.Type:
                guard let number = value.doubleValue ?? nonFinite() else { throw mismatch(type, expected: "a number") }
                return (number as! T)
            case is Float.Type:
                guard let number = value.doubleValue ?? nonFinite() else { throw mismatch(type, expected: "a number") }
                return (Float(number) as! T)
            case is Int.Type: return (try integer(Int.self) as! T)
            case is Int64.Type: return (try integer(Int64.self) as! T)
            case is Int32.Type: return (try integer(Int32.self) as! T)
            case is UInt.Type: return (try integer(UInt.self) as! T)
            case is UInt64.Type: return (try integer(UInt64.self) as! T)
            case is UInt32.Type: return (try integer(UInt32.self) as! T)
            case is UInt8.Type: return (try integer(UInt8.self) as! T)
            default: return nil
            }
        }

        /// `"NaN"`, `"Infinity"` or `"-Infinity"`, as ``JSONValueEncoder`` writes what JSON cannot hold.
        private func nonFinite() -> Double? {
            switch value {
            case .string("NaN"): .nan
            case .string("Infinity"): .infinity
            case .string("-Infinity"): -.infinity
            default: nil
            }
        }

        private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
            switch value {
            case .string(let digits) where !I.isSigned && digits.utf8.count <= 20 && !digits.isEmpty && digits.utf8.allSatisfy({ $0 &- 0x30 < 10 }):
                // An unsigned integer past Int64, as the encoder writes one.
                guard let exact = I(digits) else { throw mismatch(type, expected: "an integer in range for \(I.self)") }
                return exact
            case .int(let number):
                guard let exact = I(exactly: number) else { throw mismatch(type, expected: "an integer in range for \(I.self)") }
                return exact
            case .double(let number):
                guard let exact = I(exactly: number) else { throw mismatch(type, expected: "an integer") }
                return exact
            default:
                throw mismatch(type, expected: "an integer")
            }
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [(key: String, value: JSONValue)]
        let node: Node
        let entry: Audit.Entry
        var codingPath: [any CodingKey] { node.codingPath }

        var allKeys: [Key] {
            entry.used.formUnion(members.map(\.key))
            return members.compactMap { Key(stringValue: $0.key) }
        }

        private func lookup(_ key: Key) -> JSONValue? {
            entry.used.insert(key.stringValue)
            return members.first(where: { $0.key == key.stringValue })?.value
        }

        private func require(_ key: Key) throws -> JSONValue {
            guard let value = lookup(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return value
        }

        func contains(_ key: Key) -> Bool { lookup(key) != nil }

        func decodeNil(forKey key: Key) throws -> Bool {
            if case .null = try require(key) { return true }
            return false
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let value = try require(key)
            if case .null = value, !(T.self == JSONValue.self) {
                throw DecodingError.valueNotFound(
                    type, .init(codingPath: codingPath + [key], debugDescription: "must not be null"))
            }
            return try node.child(value, key: key).decode(type)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try node.child(try require(key), key: key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try node.child(try require(key), key: key).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { node }

        func superDecoder(forKey key: Key) throws -> any Decoder {
            node.child(lookup(key) ?? .null, key: key)
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let values: [JSONValue]
        let node: Node
        var currentIndex = 0
        var codingPath: [any CodingKey] { node.codingPath }
        var count: Int? { values.count }
        var isAtEnd: Bool { currentIndex >= values.count }

        init(values: [JSONValue], node: Node) {
            self.values = values
            self.node = node
        }

        private mutating func next() throws -> Node {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    JSONValue.self, .init(codingPath: codingPath, debugDescription: "the array has too few elements"))
            }
            defer { currentIndex += 1 }
            return node.child(values[currentIndex], key: AnyCodingKey(intValue: currentIndex))
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, case .null = values[currentIndex] else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }

        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { node.codingPath }

        func decodeNil() -> Bool {
            if case .null = node.value { return true }
            return false
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> T { try node.decode(type) }
    }
}
