import Offload

/// A URL's query (`a=1&b=two+words&c=%C3%A9`) read strictly: `+` is a space, `%XX` a byte, the
/// bytes UTF-8; a malformed escape, bad UTF-8 or a name given twice is an error naming it.
enum QueryString {
    enum Failure: Error, Equatable {
        case malformed(String)
        case repeated(String)
    }

    static func parse(_ query: String) throws(Failure) -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawName = String(parts[0])
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { throw .malformed(rawName) }
            guard values[name] == nil else { throw .repeated(name) }
            values[name] = value
        }
        return values
    }

    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(Hex.value), let low = iterator.next().flatMap(Hex.value) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
