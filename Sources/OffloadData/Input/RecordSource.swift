#if canImport(Glibc)
import Glibc
#endif
package import Offload

/// Where a pipeline's records come from: an inline array, a JSON Lines file read in chunks (never
/// whole), or a JSON array file (its bytes checked once, then each element read like a line: only
/// the fields used are built). Each record carries its line (or index) for error messages.
package final class RecordSource {
    private enum Kind {
        case inline([JSONValue])
        /// A JSON Lines file read from `offset` up to `end` (the whole file: `Int.max`).
        case lines(fd: Int32)
        /// A JSON array file's bytes and where each element starts and ends.
        case arrayFile(bytes: [UInt8], elements: [Range<Int>])
    }

    private var offset = 0
    private var end = Int.max
    /// The resolved path of a JSON Lines input, for reading it in parts.
    package private(set) var linesPath: String?

    private var kind: Kind
    private var index = 0
    /// The file's bytes read but not yet consumed are `storage[start..<filled]`. Raw memory, not
    /// an array: an array in a class is retained around every access, twice a line.
    private var storage = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    private var capacity = 1
    private var filled = 0
    private var start = 0
    private var line = 0
    /// Lines read so far (blank ones included).
    var linesRead: Int { line }
    private var ended = false
    package let name: String
    /// When set, JSON Lines records are read through it (only the fields the pipeline uses).
    package var scanner: FieldScanner?

    /// - Throws: ``OffloadError/Code/invalidPayload`` for an input that is neither an array nor
    ///   `{"path": …}` under the allowed folders, or a `.json` file that does not parse.
    package init(_ input: JSONValue, folders: AllowedFolders, field: String = "payload.input") throws(OffloadError) {
        switch input {
        case .array(let records):
            kind = .inline(records)
            name = field
        case .object(let members) where members.count == 1 && members[0].key == "path":
            guard case .string(let reference) = members[0].value else {
                throw OffloadError(.invalidPayload, "\(field).path must be a string")
            }
            let path = try folders.resolve(reference, field: "\(field).path")
            name = reference
            if reference.hasSuffix(".json") {
                let bytes = try folders.read(reference, field: "\(field).path", maxBytes: 1 << 31)
                kind = .arrayFile(bytes: bytes, elements: try Self.elements(of: bytes, what: reference))
            } else {
                // Never blocks: a FIFO put in the file's place since it was checked is refused.
                guard let fd = try? RegularFile.open(path) else { throw folders.notAllowed(reference, field: "\(field).path") }
                kind = .lines(fd: fd)
                linesPath = path
            }
        default:
            throw OffloadError(.invalidPayload, "\(field) must be an array of records or {\"path\": \"file.jsonl\"}")
        }
    }

    /// The lines of `path` between two byte offsets (each a line start), named `name` in errors.
    package init(linesOf path: String, from start: Int, to end: Int, name: String) throws(OffloadError) {
        guard let fd = try? RegularFile.open(path) else {
            throw OffloadError(.invalidPayload, "payload.input.path: cannot open \(OffloadError.quote(name))")
        }
        kind = .lines(fd: fd)
        offset = start
        self.end = end
        self.name = name
        linesPath = path
    }

    deinit {
        if case .lines(let fd) = kind { close(fd) }
        storage.deallocate()
    }

    /// Where the elements of the JSON array in `bytes` are, the whole checked as JSON (grammar and UTF-8).
    private static func elements(of bytes: [UInt8], what: String) throws(OffloadError) -> [Range<Int>] {
        do {
            return try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in
                var cursor = FieldScanner.Cursor(bytes: buffer)
                var elements: [Range<Int>] = []
                cursor.skipWhitespace()
                guard cursor.peek == UInt8(ascii: "[") else { throw cursor.error("expected '[': the file must hold a JSON array of records") }
                cursor.index += 1
                cursor.skipWhitespace()
                if cursor.peek == UInt8(ascii: "]") {
                    cursor.index += 1
                } else {
                    while true {
                        cursor.skipWhitespace()
                        let start = cursor.index
                        try cursor.skipValue(depth: 1)
                        elements.append(start..<cursor.index)
                        cursor.skipWhitespace()
                        if cursor.peek == UInt8(ascii: "]") {
                            cursor.index += 1
                            break
                        }
                        try cursor.expect(UInt8(ascii: ","), "',' or ']' after an element")
                    }
                }
                cursor.skipWhitespace()
                guard cursor.index == buffer.count else { throw cursor.error("unexpected bytes after the array") }
                return elements
            }
        } catch {
            throw OffloadError(.invalidPayload, "payload.input.path: \(what) is not valid JSON: \(error.message) at byte \(error.offset + 1)")
        }
    }

    /// The next record and its line number, `.failure` for a line that is not JSON, `nil` at the
    /// end. With a scanner, the record holds only the scanner's fields.
    package func next() -> (line: Int, record: Result<JSONValue, JSONParser.SyntaxError>)? {
        switch kind {
        case .inline(let records):
            guard index < records.count else { return nil }
            index += 1
            return (index, .success(records[index - 1]))
        case .arrayFile(let bytes, let elements):
            guard index < elements.count else { return nil }
            index += 1
            return (
                index,
                bytes.withUnsafeBufferPointer { buffer in
                    let element = UnsafeBufferPointer(rebasing: buffer[elements[index - 1]])
                    return Result { () throws(JSONParser.SyntaxError) in
                        if let scanner { return try scanner.scan(element) }
                        return try JSONParser.parse(buffer: element)
                    }
                }
            )
        case .lines(let fd):
            return nextLine(fd) { bytes in
                Result { () throws(JSONParser.SyntaxError) in
                    if let scanner { return try scanner.scan(bytes) }
                    return try JSONParser.parse(buffer: bytes)
                }
            }.map { ($0.line, $0.made) }
        }
    }

    /// The next record's line number, its scanner's fields put in `slots` (one per path of
    /// `scanner`, which must be set); the error when the line is not JSON; `nil` at the end.
    package func next(into slots: inout [JSONValue?]) -> (line: Int, error: JSONParser.SyntaxError?)? {
        guard let scanner else { preconditionFailure("next(into:) reads through a scanner") }
        switch kind {
        case .inline(let records):
            guard index < records.count else { return nil }
            index += 1
            scanner.fill(&slots, from: records[index - 1])
            return (index, nil)
        case .arrayFile(let bytes, let elements):
            guard index < elements.count else { return nil }
            index += 1
            return (
                index,
                bytes.withUnsafeBufferPointer { buffer -> JSONParser.SyntaxError? in
                    do throws(JSONParser.SyntaxError) {
                        try scanner.scan(UnsafeBufferPointer(rebasing: buffer[elements[index - 1]]), into: &slots)
                        return nil
                    } catch {
                        return error
                    }
                }
            )
        case .lines(let fd):
            return nextLine(fd) { bytes -> JSONParser.SyntaxError? in
                do throws(JSONParser.SyntaxError) {
                    try scanner.scan(bytes, into: &slots)
                    return nil
                } catch {
                    return error
                }
            }.map { ($0.line, $0.made) }
        }
    }

    /// Hands the next line that is not blank to `body`; its number and what `body` made, `nil` at the end.
    private func nextLine<Made>(_ fd: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> Made) -> (line: Int, made: Made)? {
        while true {
            let lineEnd: Int
            if start < filled, let hit = memchr(storage + start, 0x0A, filled - start) {
                lineEnd = storage.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            } else if ended {
                guard start < filled else { return nil }
                lineEnd = filled
            } else {
                refill(fd)
                continue
            }
            line += 1
            let bytes = UnsafeBufferPointer(start: storage + start, count: lineEnd - start)
            start = min(lineEnd + 1, filled)
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            return (line, body(bytes))
        }
    }

    /// Moves the unread bytes to the front and reads up to 1 MiB more after them.
    private func refill(_ fd: Int32) {
        if start > 0 {
            memmove(storage, storage + start, filled - start)
            filled -= start
            start = 0
        }
        let chunk = min(1 << 20, end - offset)
        guard chunk > 0 else {
            ended = true
            return
        }
        if filled + chunk > capacity {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: filled + chunk)
            grown.initialize(from: storage, count: filled)
            storage.deallocate()
            storage = grown
            capacity = filled + chunk
        }
        let count = pread(fd, storage + filled, chunk, off_t(offset))
        if count <= 0 {
            ended = true
        } else {
            filled += count
            offset += count
        }
    }
}
