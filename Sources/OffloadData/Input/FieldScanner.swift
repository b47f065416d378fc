#if canImport(Glibc)
import Glibc
#endif
package import Offload

/// Reads only the fields a pipeline uses from one JSON Lines record: the record is checked
/// whole (JSON grammar, UTF-8, with the byte position of an error), but only the values at the
/// wanted paths are built, each into its slot; everything else is skipped without allocating.
/// Most of a group-by's time would otherwise go to building values it never reads.
package final class FieldScanner: @unchecked Sendable {
    // `@unchecked Sendable`: everything is built in `init`, then only read.

    /// The wanted paths, one slot each, in the order given (duplicates once).
    package let paths: [FieldPath]
    /// The wanted paths as a tree of keys, in memory of its own (read without reference counting).
    private let tree: Tree
    private let nodes: UnsafeMutableBufferPointer<Node>
    private let keys: UnsafeMutableBufferPointer<UInt8>
    /// For a node wanted whole that also has wanted descendants: those descendants' paths below
    /// it and their slots (filled from the parsed value).
    private let inner: Inner

    struct Node {
        var keyStart = 0
        var keyCount = 0
        var firstChild = 0
        var childCount = 0
        /// The slot of the path ending here (its whole value is wanted), or -1.
        var slot = -1
        /// Whether wanted paths lie inside this node's whole value (see ``FieldScanner/inner``).
        var hasInner = false
    }

    final class Inner {
        var paths: [Int: [(rest: ArraySlice<String>, slot: Int)]] = [:]
    }

    /// The tree flattened breadth-first: a node's children are contiguous.
    private static func flatten(_ paths: [FieldPath]) -> (nodes: [Node], keys: [UInt8], inner: Inner) {
        final class Draft {
            var children: [(String, Draft)] = []
            var slot = -1
        }
        let root = Draft()
        for (slot, path) in paths.enumerated() {
            var node = root
            for part in path.parts {
                if let existing = node.children.first(where: { $0.0 == part })?.1 {
                    node = existing
                } else {
                    let created = Draft()
                    node.children.append((part, created))
                    node = created
                }
            }
            node.slot = slot
        }
        var nodes = [Node()]
        var keys: [UInt8] = []
        var queue: [(Draft, Int)] = [(root, 0)]
        var position = 0
        while position < queue.count {
            let (draft, index) = queue[position]
            position += 1
            nodes[index].slot = draft.slot
            nodes[index].firstChild = nodes.count
            nodes[index].childCount = draft.children.count
            for (key, child) in draft.children {
                nodes.append(Node(keyStart: keys.count, keyCount: key.utf8.count))
                keys += Array(key.utf8)
                queue.append((child, nodes.count - 1))
            }
        }
        let inner = Inner()
        for (slot, path) in paths.enumerated() {
            // The deepest ancestor wanted whole, if any, gives this path its value.
            for length in stride(from: path.parts.count - 1, through: 1, by: -1) {
                if let ancestor = paths.firstIndex(where: { $0.parts[...] == path.parts.prefix(length) }) {
                    inner.paths[ancestor, default: []].append((path.parts.dropFirst(length), slot))
                    break
                }
            }
        }
        for index in nodes.indices where nodes[index].slot >= 0 && inner.paths[nodes[index].slot] != nil { nodes[index].hasInner = true }
        return (nodes, keys, inner)
    }

    package init(paths: [FieldPath]) {
        var unique: [FieldPath] = []
        for path in paths where !unique.contains(path) { unique.append(path) }
        self.paths = unique
        let (nodes, keys, inner) = Self.flatten(unique)
        self.nodes = .allocate(capacity: nodes.count)
        _ = self.nodes.initialize(from: nodes)
        self.keys = .allocate(capacity: max(keys.count, 1))
        _ = self.keys.initialize(from: keys)
        self.inner = inner
        tree = Tree(nodes: UnsafeBufferPointer(self.nodes), keys: UnsafeBufferPointer(self.keys), inner: Unmanaged.passUnretained(inner))
    }

    deinit {
        nodes.deallocate()
        keys.deallocate()
    }

    /// The slot of `path`, `nil` when the scanner does not read it.
    package func slot(of path: FieldPath) -> Int? {
        paths.firstIndex { $0.description == path.description }
    }

    /// Fills `slots` (one per path; `nil` for a missing field) from one line. A line that is
    /// valid JSON but not an object has none of the fields.
    package func scan(_ line: UnsafeBufferPointer<UInt8>, into slots: inout [JSONValue?]) throws(JSONParser.SyntaxError) {
        for index in slots.indices { slots[index] = nil }
        var cursor = Cursor(bytes: line)
        cursor.skipWhitespace()
        if cursor.peek == UInt8(ascii: "{") {
            try cursor.object(0, tree, into: &slots, depth: 1)
        } else {
            try cursor.skipValue(depth: 0)
        }
        cursor.skipWhitespace()
        guard cursor.index == line.count else { throw cursor.error("unexpected bytes after the record") }
    }

    /// The record with only the wanted fields, as an object (paths in the scanner's order).
    func scan(_ line: UnsafeBufferPointer<UInt8>) throws(JSONParser.SyntaxError) -> JSONValue {
        var slots = [JSONValue?](repeating: nil, count: paths.count)
        try scan(line, into: &slots)
        return record(from: slots)
    }

    /// An object holding the slots' values at their paths.
    package func record(from slots: [JSONValue?]) -> JSONValue {
        var record = JSONValue.object([])
        for (path, value) in zip(paths, slots) {
            if let value { path.set(value, in: &record) }
        }
        return record
    }

    /// Fills `slots` from a record already in memory.
    package func fill(_ slots: inout [JSONValue?], from record: JSONValue) {
        for index in slots.indices { slots[index] = index < paths.count ? paths[index].value(in: record) : nil }
    }

    struct Tree {
        let nodes: UnsafeBufferPointer<Node>
        let keys: UnsafeBufferPointer<UInt8>
        /// Owned by the scanner, which outlives every scan.
        let inner: Unmanaged<Inner>

        /// The child of `node` named by `key`: few keys are wanted at each level, so a byte
        /// comparison of each beats hashing every key of the record.
        func child(of node: Int, _ key: UnsafeBufferPointer<UInt8>) -> Int? {
            let parent = nodes[node]
            for index in parent.firstChild..<(parent.firstChild + parent.childCount) {
                let candidate = nodes[index]
                if candidate.keyCount == key.count, memcmp(keys.baseAddress! + candidate.keyStart, key.baseAddress!, key.count) == 0 {
                    return index
                }
            }
            return nil
        }
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

        /// An object at the cursor, putting the values `node`'s wanted paths name into their slots.
        mutating func object(_ node: Int, _ tree: Tree, into slots: inout [JSONValue?], depth: Int) throws(JSONParser.SyntaxError) {
            guard depth <= JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
                let keyStart = index
                let escaped = try skipString()
                let keyEnd = index
                let key = UnsafeBufferPointer(rebasing: bytes[(keyStart + 1)..<(keyEnd - 1)])
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after the key")
                skipWhitespace()
                let child: Int?
                if escaped {
                    let decoded = try JSONParser.parse(buffer: UnsafeBufferPointer(rebasing: bytes[keyStart..<keyEnd]))
                    child = Array(decoded.stringValue?.utf8 ?? "".utf8).withUnsafeBufferPointer { tree.child(of: node, $0) }
                } else {
                    child = tree.child(of: node, key)
                }
                if let child {
                    let wanted = tree.nodes[child]
                    if wanted.slot >= 0 {
                        let value = try value(depth: depth)
                        slots[wanted.slot] = value
                        if wanted.hasInner, let inner = tree.inner.takeUnretainedValue().paths[wanted.slot] {
                            for (rest, slot) in inner { slots[slot] = FieldPath.value(at: rest, in: value) }
                        }
                    } else if peek == UInt8(ascii: "{") {
                        try object(child, tree, into: &slots, depth: depth + 1)
                    } else {
                        try skipValue(depth: depth)
                    }
                } else {
                    try skipValue(depth: depth)
                }
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return
                default: throw error("expected ',' or '}' in an object")
                }
            }
        }

        /// The value at the cursor, built: strings without escapes and numbers directly, anything
        /// else through the parser.
        mutating func value(depth: Int) throws(JSONParser.SyntaxError) -> JSONValue {
            let start = index
            switch peek ?? 0 {
            case UInt8(ascii: "\""):
                if try !skipString() {
                    return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(index - 1)]), as: UTF8.self))
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try skipNumber()
                let number = UnsafeBufferPointer(rebasing: bytes[start..<index])
                guard let value = JSONNumber.value(number) else {
                    throw JSONParser.SyntaxError(message: "number '\(String(decoding: number, as: UTF8.self))' is out of range", offset: start)
                }
                return value
            default:
                try skipValue(depth: depth)
            }
            do {
                return try JSONParser.parse(buffer: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            } catch {
                throw JSONParser.SyntaxError(message: error.message, offset: start + error.offset)
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
            if first == 0x30 {
                index += 1
                if let next = peek, next >= 0x30 && next <= 0x39 { throw error("invalid number: leading zero") }
            } else {
                _ = digits(&self)
            }
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
                // Eight bytes at a time: past those that are plain ASCII, to the first that is a
                // quote, a backslash, a control character or the start of a multibyte sequence.
                while index + 8 <= bytes.count {
                    let special = Self.specialBytes(UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self))
                    if special == 0 {
                        index += 8
                    } else {
                        index += special.trailingZeroBitCount >> 3
                        break
                    }
                }
                guard index < bytes.count else { break }
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

        /// The high bit of each of the eight bytes of `word` (little-endian) that ends or escapes
        /// a string or needs checking as UTF-8, by the SWAR zero-byte test (`(v - 0x01…) & ~v &
        /// 0x80…` flags the bytes of `v` that are zero). A borrow can flag a byte above a flagged
        /// one too, never below: the lowest flag is exact, which is all that is read.
        @inline(__always)
        private static func specialBytes(_ word: UInt64) -> UInt64 {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let high: UInt64 = 0x8080_8080_8080_8080
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word) | word
            return special & high
        }

        private static func isHex(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
        }

        /// One UTF-8 sequence of 2–4 bytes (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
        private mutating func skipMultibyte(_ lead: UInt8) throws(JSONParser.SyntaxError) {
            let (count, low, high): (Int, UInt8, UInt8) =
                switch lead {
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
