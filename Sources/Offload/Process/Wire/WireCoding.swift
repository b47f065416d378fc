/// Appends the fields of a message body: little-endian integers, IEEE doubles, and strings and
/// byte arrays prefixed with their 4-byte length.
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }
    mutating func f64(_ value: Double) { u64(value.bitPattern) }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func optionalString(_ value: String?) {
        if let value {
            u8(1)
            string(value)
        } else {
            u8(0)
        }
    }
}

/// Reads the fields ``WireWriter`` wrote; any short read or bad value is a ``WireError``.
struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    private mutating func take(_ count: Int, _ what: StaticString) throws(WireError) -> UnsafeRawBufferPointer {
        guard count >= 0, bytes.count - offset >= count else {
            throw WireError(.malformed("the body ends before its \(what)"))
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    mutating func u8(_ what: StaticString) throws(WireError) -> UInt8 { try take(1, what)[0] }

    mutating func u32(_ what: StaticString) throws(WireError) -> UInt32 {
        UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self))
    }

    mutating func u64(_ what: StaticString) throws(WireError) -> UInt64 {
        UInt64(littleEndian: try take(8, what).loadUnaligned(as: UInt64.self))
    }

    mutating func i32(_ what: StaticString) throws(WireError) -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func f64(_ what: StaticString) throws(WireError) -> Double { Double(bitPattern: try u64(what)) }

    mutating func string(_ what: StaticString) throws(WireError) -> String {
        let count = Int(try u32(what))
        let raw = try take(count, what)
        guard let text = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw WireError(.malformed("its \(what) is not UTF-8"))
        }
        return text
    }

    mutating func blob(_ what: StaticString) throws(WireError) -> [UInt8] {
        let count = Int(try u32(what))
        return Array(try take(count, what))
    }

    mutating func optionalString(_ what: StaticString) throws(WireError) -> String? {
        switch try u8(what) {
        case 0: return nil
        case 1: return try string(what)
        case let flag: throw WireError(.malformed("its \(what) has presence flag \(flag)"))
        }
    }

    mutating func bool(_ what: StaticString) throws(WireError) -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let flag: throw WireError(.malformed("its \(what) is \(flag), not a boolean"))
        }
    }

    /// An attempt number, which must fit the host's `Int` and be at least 1.
    mutating func attempt() throws(WireError) -> Int {
        let value = try u32("attempt")
        guard value >= 1 else { throw WireError(.malformed("attempt 0")) }
        return Int(value)
    }
}
