public import Offload

/// A dotted path into a record (`"user.country"`); each part is an object key.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public let parts: [String]
    public let description: String

    /// The most parts a path may have: records are at most this deep where a path reaches.
    public static let maxParts = 64
    /// The longest path, in bytes.
    public static let maxLength = 1_024

    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field` for an empty path or part,
    ///   or one longer than ``maxLength`` bytes or ``maxParts`` parts.
    public init(_ text: String, field: String) throws(OffloadError) {
        guard text.utf8.count <= Self.maxLength else {
            throw OffloadError(.invalidPayload, "\(field): the field path \(OffloadError.quote(text)) is over the limit of \(Self.maxLength) bytes")
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !parts.contains(where: \.isEmpty) else {
            throw OffloadError(
                .invalidPayload, "\(field): \(OffloadError.quote(text)) is not a field path (use names joined by dots, as user.country)")
        }
        guard parts.count <= Self.maxParts else {
            throw OffloadError(
                .invalidPayload, "\(field): the field path \(OffloadError.quote(text)) has \(parts.count) parts, over the limit of \(Self.maxParts)")
        }
        self.parts = parts
        self.description = text
    }

    /// The value at the path; `nil` when a part is missing or not an object.
    public func value(in record: JSONValue) -> JSONValue? {
        Self.value(at: parts[...], in: record)
    }

    /// The value at the keys `parts` in `record`.
    static func value(at parts: ArraySlice<String>, in record: JSONValue) -> JSONValue? {
        var current = record
        for part in parts {
            guard let next = current[part] else { return nil }
            current = next
        }
        return current
    }

    /// Sets the value at the path in `record`, making objects on the way (a part that is not an
    /// object is replaced by one). In place: a record's members are not copied for each field set.
    func set(_ value: JSONValue, in record: inout JSONValue) {
        Self.set(value, parts[...], in: &record)
    }

    private static func set(_ value: JSONValue, _ parts: ArraySlice<String>, in record: inout JSONValue) {
        guard let first = parts.first else {
            record = value
            return
        }
        var members: [(key: String, value: JSONValue)] = []
        if case .object(let existing) = record { members = existing }
        // The record lets go of its members, so that they are changed in place, not copied.
        record = .null
        if let index = members.firstIndex(where: { $0.key == first }) {
            set(value, parts.dropFirst(), in: &members[index].value)
        } else {
            var child = JSONValue.null
            set(value, parts.dropFirst(), in: &child)
            members.append((first, child))
        }
        record = .object(members)
    }
}
