/// The input of a job: JSON (from a job file, or bytes from another process), or a typed value
/// handed over in-process without any encoding.
public struct JobPayload: Sendable {
    enum Storage: Sendable {
        case json(JSONValue)
        case value(any Encodable & Sendable)
    }

    let storage: Storage

    /// A payload given as JSON.
    public static func json(_ value: JSONValue) -> JobPayload { JobPayload(storage: .json(value)) }

    /// A typed payload; in thread isolation the handler receives this very value, never encoded.
    public static func value(_ value: some Encodable & Sendable) -> JobPayload {
        if let json = value as? JSONValue { return .json(json) }
        return JobPayload(storage: .value(value))
    }

    /// No payload (`null`).
    public static let none = JobPayload.json(.null)

    /// The payload as the handler's type: the value itself when it already is one, else decoded strictly.
    public func decode<T: Decodable>(_ type: T.Type) throws(OffloadError) -> T {
        switch storage {
        case .value(let value):
            if let typed = value as? T { return typed }
            let json: JSONValue
            do { json = try JSONValueEncoder().encode(value) } catch {
                throw OffloadError(.invalidPayload, "payload of type \(Swift.type(of: value)) could not be encoded: \(error)")
            }
            return try JSONValueDecoder().decode(type, from: json)
        case .json(.null) where type != JSONValue.self:
            // No payload reads as an empty object, so kinds whose fields are all optional need none.
            return try JSONValueDecoder().decode(type, from: .object([]))
        case .json(let json):
            return try JSONValueDecoder().decode(type, from: json)
        }
    }

    /// The payload as JSON.
    public func json() throws -> JSONValue {
        switch storage {
        case .json(let json): json
        case .value(let value): try JSONValueEncoder().encode(value)
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
    public func decode<T: Decodable>(_ type: T.Type) throws(OffloadError) -> T {
        try JobPayload(storage: storage).decode(type)
    }

    /// The result as JSON.
    public func json() throws -> JSONValue { try JobPayload(storage: storage).json() }
}
