/// Encodes `Encodable` values into a `JSONValue`, keeping keys in the order they are encoded.
///
/// Non-finite floating-point numbers, which JSON cannot hold, are encoded as `null`.
public struct JSONValueEncoder: Sendable {
    public init() {}

    /// The JSON form of `value`.
    public func encode(_ value: some Encodable) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let node = Node(codingPath: [])
        try value.encode(to: node)
        return node.slot.finish()
    }

    /// The contents a node has been given so far.
    final class Slot {
        enum Content {
            case unset
            case value(JSONValue)
            case object([(key: String, slot: Slot)])
            case array([Slot])
        }

        var content: Content = .unset

        func finish() -> JSONValue {
            switch content {
            case .unset: return .object([])
            case .value(let value): return value
            case .object(let members): return .object(members.map { (key: $0.key, value: $0.slot.finish()) })
            case .array(let slots): return .array(slots.map { $0.finish() })
            }
        }

        func objectChild(_ key: String) -> Slot {
            let child = Slot()
            var members: [(key: String, slot: Slot)]
            if case .object(let existing) = content { members = existing } else { members = [] }
            if let index = members.firstIndex(where: { $0.key == key }) {
                members[index].slot = child
            } else {
                members.append((key: key, slot: child))
            }
            content = .object(members)
            return child
        }

        func arrayChild() -> Slot {
            let child = Slot()
            var slots: [Slot]
            if case .array(let existing) = content { slots = existing } else { slots = [] }
            slots.append(child)
            content = .array(slots)
            return child
        }
    }

    static func primitive(_ value: some Encodable) -> JSONValue? {
        switch value {
        case let json as JSONValue: return json
        case let text as String: return .string(text)
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .int(Int64(number))
        case let number as Int64: return .int(number)
        case let number as Int32: return .int(Int64(number))
        case let number as UInt8: return .int(Int64(number))
        case let number as UInt32: return .int(Int64(number))
        // What JSON cannot hold as a number is written as a string the decoder reads back
        // (Foundation's `convertToString` spellings), so a payload round-trips through a worker
        // process exactly as it is handed over in a thread.
        case let number as UInt64: return number <= UInt64(Int64.max) ? .int(Int64(number)) : .string(String(number))
        case let number as UInt: return UInt64(number) <= UInt64(Int64.max) ? .int(Int64(number)) : .string(String(number))
        case let number as Double: return number.isFinite ? .double(number) : .string(nonFinite(number))
        case let number as Float: return number.isFinite ? .double(Double(number)) : .string(nonFinite(Double(number)))
        default: return nil
        }
    }

    static func nonFinite(_ number: Double) -> String {
        number.isNaN ? "NaN" : number < 0 ? "-Infinity" : "Infinity"
    }

    static func encode(_ value: some Encodable, into slot: Slot, codingPath: [any CodingKey]) throws {
        if let primitive = primitive(value) {
            slot.content = .value(primitive)
        } else {
            let node = Node(codingPath: codingPath, slot: slot)
            try value.encode(to: node)
        }
    }

    final class Node: Encoder {
        let codingPath: [any CodingKey]
        let slot: Slot
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        init(codingPath: [any CodingKey], slot: Slot = Slot()) {
            self.codingPath = codingPath
            self.slot = slot
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = slot.content {} else { slot.content = .object([]) }
            return KeyedEncodingContainer(Keyed<Key>(slot: slot, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = slot.content {} else { slot.content = .array([]) }
            return Unkeyed(slot: slot, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(slot: slot, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let slot: Slot
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { slot.objectChild(key.stringValue).content = .value(.null) }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try JSONValueEncoder.encode(value, into: slot.objectChild(key.stringValue), codingPath: codingPath + [key])
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            Node(codingPath: codingPath + [key], slot: slot.objectChild(key.stringValue)).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            Node(codingPath: codingPath + [key], slot: slot.objectChild(key.stringValue)).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { Node(codingPath: codingPath, slot: slot.objectChild("super")) }

        mutating func superEncoder(forKey key: Key) -> any Encoder {
            Node(codingPath: codingPath + [key], slot: slot.objectChild(key.stringValue))
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]
        var count: Int {
            if case .array(let slots) = slot.content { return slots.count }
            return 0
        }

        mutating func encodeNil() throws { slot.arrayChild().content = .value(.null) }

        mutating func encode<T: Encodable>(_ value: T) throws {
            try JSONValueEncoder.encode(value, into: slot.arrayChild(), codingPath: codingPath + [AnyCodingKey(intValue: count)])
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            Node(codingPath: codingPath, slot: slot.arrayChild()).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            Node(codingPath: codingPath, slot: slot.arrayChild()).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { Node(codingPath: codingPath, slot: slot.arrayChild()) }
    }

    struct Single: SingleValueEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { slot.content = .value(.null) }

        mutating func encode<T: Encodable>(_ value: T) throws {
            try JSONValueEncoder.encode(value, into: slot, codingPath: codingPath)
        }
    }
}
