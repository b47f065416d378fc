import COffloadPlugins
import WasmKit

/// Where a `Store` keeps its fuel counter, found once per process, so a signal handler on the
/// thread running a call can zero it (see `Watchdog`). WasmKit keeps the counter inline in the
/// store object and offers no address for it: the offset is found by setting two budgets and
/// looking for the one word of the object that follows both, then checked by writing through it
/// and reading the budget back. Where that fails (another WasmKit layout), `offset` is `nil` and
/// the watchdog falls back to setting the budget from its own thread.
enum FuelCounter {
    static let offset: Int? = {
        let store = Store(engine: SandboxCall.engine)
        let object = Unmanaged.passUnretained(store).toOpaque()
        let size = offload_allocation_size(object)
        let words = object.assumingMemoryBound(to: UInt64.self)
        func matches(_ budget: UInt64) -> [Int] {
            store.fuel = Fuel(remaining: budget)
            return (2..<(size / 8)).filter { words[$0] == budget }
        }
        let first = Set(matches(0x5EED_F00D_1234_5678))
        let both = matches(0x0BAD_CAFE_8765_4321).filter(first.contains)
        guard both.count == 1, let index = both.first else { return nil }
        words[index] = 4_242
        let checked = store.fuel?.remaining == 4_242
        return withExtendedLifetime(store) { checked ? index * 8 : nil }
    }()

    /// The counter of `store`, when its offset is known.
    static func address(in store: Store) -> UnsafeMutablePointer<UInt64>? {
        guard let offset else { return nil }
        return Unmanaged.passUnretained(store).toOpaque().advanced(by: offset).assumingMemoryBound(to: UInt64.self)
    }
}
