import WasmKit

/// Reads and writes a plugin's memory only where it has memory: a guest pointer is never
/// trusted (WasmKit's own accessors stop the process on a bad one).
enum GuestMemory {
    static func read(_ memory: WasmKit.Memory, at pointer: UInt32, count: UInt32) -> [UInt8]? {
        let (start, length) = (Int(pointer), Int(count))
        guard start + length <= memory.byteCount else { return nil }
        if length == 0 { return [] }
        return memory.withUnsafeBufferPointer(offset: UInt(start), count: length) { Array($0) }
    }

    static func write(_ bytes: [UInt8], to memory: WasmKit.Memory, at pointer: UInt32) -> Bool {
        let start = Int(pointer)
        guard start + bytes.count <= memory.byteCount else { return false }
        if bytes.isEmpty { return true }
        memory.withUnsafeMutableBufferPointer(offset: UInt(start), count: bytes.count) { target in
            bytes.withUnsafeBytes { target.copyMemory(from: $0) }
        }
        return true
    }
}
