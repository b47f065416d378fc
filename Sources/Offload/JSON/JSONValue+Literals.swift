/// JSON written as Swift literals, and shown as JSON text:
///
/// ```swift
/// let payload: JSONValue = ["title": "Hello", "sizes": [1200, 630], "draft": false, "note": .null]
/// print(payload)   // {"title":"Hello","sizes":[1200,630],"draft":false,"note":null}
/// ```
///
/// JSON's `null` is written `.null`: a `nil` literal standing for it would make every
/// `JSONValue?` ambiguous (`nil` could be either "no value" or "the value null").
extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
    CustomStringConvertible, CustomDebugStringConvertible
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Members in the order written.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements.map { (key: $0.0, value: $0.1) }) }

    /// The value as compact JSON text.
    public var description: String { JSONWriter.string(self) }

    /// The value as compact JSON text (as `description`: an array of values prints as JSON too).
    public var debugDescription: String { description }
}
