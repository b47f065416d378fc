/// The input of a job: JSON (from a job file, or bytes from another process), or a typed value
/// handed over in-process without any encoding.
public struct JobPayload: Sendable {
    enum Storage: Sendable {
        case json(JSONValue)
        case value(any Encodable & Sendable)
        /// JSON text as it came from another process, parsed only when someone reads it.
        case encoded([UInt8])
    }

    let storage: Storage
    /// Whether keys the handler's payload type does not read are ignored (see
    /// ``PoolConfiguration/ignoresUnknownPayloadKeys``); set by the pool for Swift values only.
    var ignoresUnknownKeys = false

    init(storage: Storage, ignoresUnknownKeys: Bool = false) {
        self.storage = storage
        self.ignoresUnknownKeys = ignoresUnknownKeys
    }

    /// Whether the payload is a Swift value (not JSON from a job file or another process).
    var isSwiftValue: Bool { if case .value = storage { true } else { false } }

    /// A payload given as JSON.
    public static func json(_ value: JSONValue) -> JobPayload { JobPayload(storage: .json(value)) }

    /// JSON text received from another process, parsed when first read.
    static func encoded(_ bytes: [UInt8], ignoresUnknownKeys: Bool = false) -> JobPayload {
        JobPayload(storage: .encoded(bytes), ignoresUnknownKeys: ignoresUnknownKeys)
    }

    /// A payload kept as its JSON text (compact UTF-8, as ``jsonBytes()`` gives it), parsed
    /// only when a handler reads it: the cheapest form to hold for long and to send to a worker
    /// process. Text that does not parse fails the job `invalidPayload` when it runs.
    public static func encodedJSON(_ bytes: [UInt8]) -> JobPayload { .encoded(bytes) }

    /// A typed payload; in thread isolation the handler receives this very value, never encoded.
    public static func value(_ value: some Encodable & Sendable) -> JobPayload {
        if let json = value as? JSONValue { return .json(json) }
        return JobPayload(storage: .value(value))
    }

    /// No payload (`null`).
    public static let none = JobPayload.json(.null)

    /// The payload as the handler's type: the value itself when it already is one, else decoded
    /// (strictly, unless the payload ignores unknown keys).
    public func decode<T: Decodable>(_ type: T.Type) throws(OffloadError) -> T {
        let decoder = JSONValueDecoder(ignoresUnknownKeys: ignoresUnknownKeys)
        switch storage {
        case .value(let value):
            if let typed = value as? T { return typed }
            let json: JSONValue
            do { json = try JSONValueEncoder().encode(value) } catch {
                throw OffloadError(.invalidPayload, "payload of type \(Swift.type(of: value)) could not be encoded: \(error)")
            }
            return try decoder.decode(type, from: json)
        case .json(.null) where type != JSONValue.self:
            // No payload reads as an empty object, so kinds whose fields are all optional need none.
            return try decoder.decode(type, from: .object([]))
        case .json(let json):
            return try decoder.decode(type, from: json)
        case .encoded(let bytes):
            return try decoder.decode(type, from: try Self.parse(bytes))
        }
    }

    /// The payload as JSON.
    public func json() throws -> JSONValue {
        switch storage {
        case .json(let json): json
        case .value(let value): try JSONValueEncoder().encode(value)
        case .encoded(let bytes): try Self.parse(bytes)
        }
    }

    /// The payload as compact JSON text (UTF-8), as it crosses to a worker process.
    /// - Throws: ``OffloadError/Code/invalidPayload`` for a Swift value that cannot be encoded.
    public func jsonBytes() throws(OffloadError) -> [UInt8] {
        var out: [UInt8] = []
        switch storage {
        case .encoded(let bytes):
            return bytes
        case .json(let json):
            JSONWriter.write(json, into: &out)
        case .value(let value):
            do { JSONWriter.write(try JSONValueEncoder().encode(value), into: &out) } catch {
                throw OffloadError(.invalidPayload, "a value of type \(Swift.type(of: value)) could not be encoded as JSON: \(error)")
            }
        }
        return out
    }

    private static func parse(_ bytes: [UInt8]) throws(OffloadError) -> JSONValue {
        do { return try JSONParser.parse(bytes) } catch {
            throw OffloadError(.invalidPayload, "the JSON text from the other process does not parse: \(error)")
        }
    }
}

/// The output of a completed job: a typed value as the handler returned it, or JSON.
public struct JobResult: Sendable {
    let storage: JobPayload.Storage

    /// A result given as JSON.
    public static func json(_ value: JSONValue) -> JobResult { JobResult(storage: .json(value)) }

    /// A typed result, kept as it is until someone asks for JSON.
    public static func value(_ value: some Encodable & Sendable) -> JobResult {
        if let json = value as? JSONValue { return .json(json) }
        return JobResult(storage: .value(value))
    }

    /// The result as `type`: the value itself when it is one, else decoded from its JSON.
    /// - Throws: ``OffloadError/Code/resultTypeMismatch`` when it does not decode as `type`.
    public func decode<T: Decodable>(_ type: T.Type) throws(OffloadError) -> T {
        do { return try JobPayload(storage: storage).decode(type) } catch {
            throw OffloadError(.resultTypeMismatch, "the output is not a \(T.self): \(error.message)")
        }
    }

    /// The result as JSON.
    public func json() throws -> JSONValue { try JobPayload(storage: storage).json() }

    /// JSON text as a worker process sent it, parsed when first read.
    static func encoded(_ bytes: [UInt8]) -> JobResult { JobResult(storage: .encoded(bytes)) }

    /// Whether the result may be an object with a member `key`: `false` only when it surely is
    /// not (its JSON text holds no such string, or its object no such member).
    package func mayHoldKey(_ key: String) -> Bool {
        switch storage {
        case .json(.object(let members)): return members.contains { $0.key == key }
        case .json: return false
        case .value: return true
        case .encoded(let bytes):
            let needle = Array("\"\(key)\"".utf8)
            guard let first = needle.first, bytes.count >= needle.count else { return false }
            return bytes.withUnsafeBufferPointer { text in
                var index = 0
                let last = text.count - needle.count
                while index <= last {
                    if text[index] == first && text[index..<index + needle.count].elementsEqual(needle) { return true }
                    index += 1
                }
                return false
            }
        }
    }

    /// The result as compact JSON text (UTF-8).
    public func jsonBytes() throws(OffloadError) -> [UInt8] { try JobPayload(storage: storage).jsonBytes() }
}
