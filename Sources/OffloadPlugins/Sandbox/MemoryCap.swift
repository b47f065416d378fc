@_spi(Fuzzing) import WasmKit

/// Refuses memory growth past a cap (`memory.grow` then returns -1, as WebAssembly specifies)
/// and remembers that it did.
final class MemoryCap: ResourceLimiter, @unchecked Sendable {
    // `@unchecked Sendable`: used by the one thread running the call, read after it.
    let bytes: Int
    private(set) var refused = false

    init(bytes: Int) { self.bytes = bytes }

    /// Forgets a refusal of an earlier call (a warm instance's cap serves call after call).
    func rearm() { refused = false }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        guard desired <= bytes else {
            refused = true
            return false
        }
        return true
    }

    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 100_000 }
}
