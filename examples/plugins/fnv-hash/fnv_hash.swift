// An Offload plugin in Embedded Swift: `analyze` hashes its input with 64-bit FNV-1a and
// answers {"fnv1a64":"<16 hex digits>","bytes":<length>}. Built by scripts/build-plugins.

/// `offload.log`, through shim.c.
@_extern(c, "offload_log_text")
func offloadLog(_ pointer: UnsafeRawPointer, _ length: Int32)

/// The shim's bump allocator, which grows the memory (see shim.c).
@_extern(c, "offload_alloc")
func offloadAlloc(_ size: Int) -> UnsafeMutableRawPointer?

@_expose(wasm, "alloc")
@_cdecl("alloc")
func alloc(_ length: Int32) -> Int32 {
    guard let pointer = offloadAlloc(Int(length)) else { return 0 }
    return Int32(truncatingIfNeeded: Int(bitPattern: pointer))
}

@_expose(wasm, "analyze")
@_cdecl("analyze")
func analyze(_ pointer: Int32, _ length: Int32) -> Int64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    if let input = UnsafePointer<UInt8>(bitPattern: Int(pointer)) {
        for index in 0..<Int(length) {
            hash ^= UInt64(input[index])
            hash &*= 0x0000_0100_0000_01b3
        }
    }
    let digits: StaticString = "0123456789abcdef"
    var text: [UInt8] = Array("{\"fnv1a64\":\"".utf8)
    for shift in stride(from: 60, through: 0, by: -4) {
        text.append(digits.utf8Start[Int((hash >> UInt64(shift)) & 0xF)])
    }
    text.append(contentsOf: "\",\"bytes\":".utf8)
    var decimal: [UInt8] = []
    var rest = Int(length)
    repeat {
        decimal.append(UInt8(48 + rest % 10))
        rest /= 10
    } while rest > 0
    text.append(contentsOf: decimal.reversed())
    text.append(UInt8(ascii: "}"))
    let message: StaticString = "hashed"
    offloadLog(message.utf8Start, Int32(message.utf8CodeUnitCount))
    let out = alloc(Int32(text.count))
    guard let target = UnsafeMutablePointer<UInt8>(bitPattern: Int(out)) else { return 0 }
    for index in 0..<text.count { target[index] = text[index] }
    return Int64(out) << 32 | Int64(text.count)
}
