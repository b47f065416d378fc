#if canImport(Glibc)
import Glibc
#endif
import Offload

/// Reads only the fields a pipeline uses from one JSON Lines record: the record is checked
/// whole (JSON grammar, UTF-8, with the byte position of an error), but only the values at the
/// wanted paths are built; everything else is skipped without allocating. Most of a group-by's
/// time would otherwise go to building values it never reads.
package struct FieldScanner: Sendable {
    /// The wanted paths, as a tree of keys; a node with no children wants its whole value.
    final class Node: @unchecked Sendable {
        // `@unchecked Sendable`: built once before scanning, then only read.
        /// Few keys are wanted at each level: a list compared byte for byte beats hashing every key.
        var children: [(key: [UInt8], node: Node)] = []
        var whole = false

        func child(_ key: UnsafeBufferPointer<UInt8>) -> Node? {
            for entry in children where entry.key.count == key.count {
                if entry.key.withUnsafeBufferPointer({ memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }) { return entry.node }
            }
            return nil
        }

        func child(_ key: [UInt8]) -> Node? {
            key.withUnsafeBufferPointer { child($0) }
        }
    }

    let root = Node()

    package init(paths: [FieldPath]) {
        for path in paths {
            var node = root
            for part in path.parts {
                let key = Array(part.utf8)
                if let existing = node.child(key) {
                    node = existing
                } else {
                    let created = Node()
                    node.children.append((key, created))
                    node = created
                }
            }
            node.whole = true
        }
    }

    /// The record with only the wanted fields (a line that is not an object is parsed whole).
    func scan(_ line: UnsafeBufferPointer<UInt8>) throws(JSONParser.SyntaxError) -> JSONValue {
        var cursor = Cursor(bytes: line)
        cursor.skipWhitespace()
        guard cursor.peek == UInt8(ascii: "{") else { return try JSONParser.parse(buffer: line) }
        let record = try cursor.object(root, depth: 1)
        cursor.skipWhitespace()
        guard cursor.index == line.count else { throw cursor.error("unexpected bytes after the record") }
        return record
    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        func error(_ message: String) -> JSONParser.SyntaxError { JSONParser.SyntaxError(message: message, offset: index) }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0D || bytes[index] == 0x0A { index += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(JSONParser.SyntaxError) {
            guard peek == byte else { throw error("expected \(what)") }
            index += 1
        }

        /// An object at the cursor, keeping the members `node` wants.
        mutating func object(_ node: Node, depth: Int) throws(JSONParser.SyntaxError) -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
                let keyStart = index + 1
                let escaped = try skipString()
                let keyEnd = index - 1
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after the key")
                skipWhitespace()
                let child: Node? = escaped ? nil : node.child(UnsafeBufferPointer(rebasing: bytes[keyStart..<keyEnd]))
                if let child {
                    let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[keyStart..<keyEnd]), as: UTF8.self)
                    if child.whole || peek != UInt8(ascii: "{") {
                        let start = index
                        try skipValue(depth: depth)
                        members.append((key, try JSONParser.parse(buffer: UnsafeBufferPointer(rebasing: bytes[start..<index]))))
                    } else {
                        members.append((key, try object(child, depth: depth + 1)))
                    }
                } else {
                    try skipValue(depth: depth)
                }
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return .object(members)
                default: throw error("expected ',' or '}' in an object")
                }
            }
        }

        /// Moves past one value, checking it.
        mutating func skipValue(depth: Int) throws(JSONParser.SyntaxError) {
            guard let byte = peek else { throw error("unexpected end of input, expected a value") }
            switch byte {
            case UInt8(ascii: "\""):
                _ = try skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                index += 1
                skipWhitespace()
                if peek == close {
                    index += 1
                    return
                }
                while true {
                    skipWhitespace()
                    if close == UInt8(ascii: "}") {
                        guard peek == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
                        _ = try skipString()
                        skipWhitespace()
                        try expect(UInt8(ascii: ":"), "':' after the key")
                        skipWhitespace()
                    }
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    if peek == UInt8(ascii: ",") {
                        index += 1
                    } else if peek == close {
                        index += 1
                        return
                    } else {
                        throw error("expected ',' or '\(UnicodeScalar(close))'")
                    }
                }
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try skipNumber()
            }
        }

        private mutating func literal(_ word: StaticString) throws(JSONParser.SyntaxError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count, memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0 else {
                throw error("expected \(word)")
            }
            index += count
        }

        private mutating func skipNumber() throws(JSONParser.SyntaxError) {
            let start = index
            if peek == UInt8(ascii: "-") { index += 1 }
            func digits(_ cursor: inout Cursor) -> Int {
                let from = cursor.index
                while let byte = cursor.peek, byte >= 0x30 && byte <= 0x39 { cursor.index += 1 }
                return cursor.index - from
            }
            guard let first = peek, first >= 0x30 && first <= 0x39 else { throw error("expected a value") }
            if first == 0x30 { index += 1 } else { _ = digits(&self) }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw error("expected digits after '.'") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw error("expected digits in the exponent") }
            }
            if index == start { throw error("expected a value") }
        }

        /// Moves past a string, checking escapes and UTF-8; returns whether it held escapes.
        mutating func skipString() throws(JSONParser.SyntaxError) -> Bool {
            index += 1
            var escaped = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return escaped
                }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index += 1
                    guard let next = peek else { break }
                    switch next {
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count,
                              (1...4).allSatisfy({ Self.isHex(bytes[index + $0]) })
                        else { throw error("bad \\u escape") }
                        index += 5
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    default:
                        throw error("bad escape in a string")
                    }
                    continue
                }
                if byte < 0x20 { throw error("control character in a string") }
                if byte < 0x80 {
                    index += 1
                    continue
                }
                try skipMultibyte(byte)
            }
            throw error("unterminated string")
        }

        private static func isHex(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
        }

        /// One UTF-8 sequence of 2–4 bytes (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
        private mutating func skipMultibyte(_ lead: UInt8) throws(JSONParser.SyntaxError) {
            let (count, low, high): (Int, UInt8, UInt8) = switch lead {
            case 0xC2...0xDF: (2, 0x80, 0xBF)
            case 0xE0: (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
            case 0xED: (3, 0x80, 0x9F)
            case 0xF0: (4, 0x90, 0xBF)
            case 0xF1...0xF3: (4, 0x80, 0xBF)
            case 0xF4: (4, 0x80, 0x8F)
            default: (0, 0, 0)
            }
            guard count > 0, index + count <= bytes.count else { throw error("string is not valid UTF-8") }
            let second = bytes[index + 1]
            guard second >= low && second <= high else { throw error("string is not valid UTF-8") }
            for offset in 2..<max(count, 2) where offset < count {
                guard bytes[index + offset] & 0xC0 == 0x80 else { throw error("string is not valid UTF-8") }
            }
            index += count
        }
    }
}
