import Offload
#if canImport(Glibc)
import Glibc
#endif
@_spi(Fuzzing) import WasmKit
import WasmParser

/// One call of a plugin operation in a fresh instance: the input written into the plugin's
/// memory through its `alloc`, the operation called under fuel, a memory cap and a deadline, and
/// the output read back, every guest pointer checked against the memory before the host reads it.
struct SandboxCall {
    let plugin: PluginModule
    let limits: SandboxLimits
    /// Lines the plugin logs through `offload.log`.
    var log: @Sendable (String) -> Void = { _ in }
    /// Progress the plugin reports through `offload.progress` (0…1).
    var progress: @Sendable (Double) -> Void = { _ in }

    struct Result {
        var output: [UInt8]
        var fuelUsed: UInt64
    }

    /// A refusal by the host while the plugin runs (a log pointer outside memory), carried out
    /// of the interpreter as an error.
    struct HostRefusal: Error { var message: String }

    static let engine = Engine(configuration: EngineConfiguration(fuelMetering: true))

    func run(operation: PluginManifest.Operation, input: [UInt8]) throws(OffloadError) -> Result {
        let name = "plugin \(plugin.manifest.id) \(plugin.manifest.version)"
        guard Int(plugin.initialPages) * PluginModule.pageSize <= limits.memoryBytes else {
            throw .plugin(.memoryLimitExceeded, "\(name) starts with \(plugin.initialPages) pages (\((Int(plugin.initialPages) * PluginModule.pageSize) >> 20) MiB) of memory, over its limit of \(limits.memoryBytes >> 20) MiB")
        }
        let store = Store(engine: Self.engine)
        let cap = MemoryCap(bytes: limits.memoryBytes)
        store.resourceLimiter = cap
        store.fuel = Fuel(remaining: limits.fuel)
        let watchdog = Watchdog(store: store, after: limits.timeout)
        defer { watchdog.cancel() }
        do {
            let instance = try plugin.module.instantiate(store: store, imports: imports(store))
            guard let memory = instance.exports[memory: "memory"], let alloc = instance.exports[function: "alloc"],
                  let function = instance.exports[function: operation.rawValue] else {
                throw OffloadError.plugin(.invalidPlugin, "\(name) lacks an export it declared")
            }
            guard input.count <= Int(Int32.max) else { throw OffloadError.plugin(.invalidPayload, "payload.input is too large for a plugin") }
            guard case .i32(let pointer)? = try alloc([.i32(UInt32(input.count))]).first else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): alloc returned no i32")
            }
            guard GuestMemory.write(input, to: memory, at: pointer) else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): alloc(\(input.count)) returned \(pointer), outside its \(memory.byteCount)-byte memory")
            }
            guard case .i64(let packed)? = try function([.i32(pointer), .i32(UInt32(input.count))]).first else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): \(operation.rawValue) returned no i64")
            }
            let (outPointer, outLength) = (UInt32(truncatingIfNeeded: packed >> 32), UInt32(truncatingIfNeeded: packed))
            guard let output = GuestMemory.read(memory, at: outPointer, count: outLength) else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): \(operation.rawValue) returned output at \(outPointer) of \(outLength) bytes, outside its \(memory.byteCount)-byte memory")
            }
            let used = limits.fuel - (store.fuel?.remaining ?? 0)
            return Result(output: output, fuelUsed: used)
        } catch let error as OffloadError {
            throw error
        } catch let refusal as HostRefusal {
            throw .plugin(.invalidPluginOutput, "\(name): \(refusal.message)")
        } catch {
            let reason = PluginModule.describe(error)
            if reason.contains("out of fuel") {
                if watchdog.fired {
                    throw OffloadError(.timedOut, "\(name) ran past its \(Int(limits.timeout.inMilliseconds)) ms deadline and was stopped")
                }
                throw .plugin(.cpuLimitExceeded, "\(name) used up its fuel (\(limits.fuel) units)")
            }
            if cap.refused {
                throw .plugin(.memoryLimitExceeded, "\(name) needed more than its \(limits.memoryBytes >> 20) MiB of memory (the growth was refused, then: \(reason))")
            }
            if error is Trap { throw .plugin(.pluginTrapped, "\(name) trapped: \(reason)") }
            throw .plugin(.invalidPlugin, "\(name) could not be instantiated: \(reason)")
        }
    }

    /// `offload.log(ptr, len)` and `offload.progress(permille)`.
    func imports(_ store: Store) -> Imports {
        let log = self.log
        let progress = self.progress
        var imports = Imports()
        imports.define(module: "offload", name: "log", Function(store: store, parameters: [.i32, .i32], results: [], body: { caller, arguments in
            guard case .i32(let pointer) = arguments[0], case .i32(let length) = arguments[1],
                  let memory = caller.instance?.exports[memory: "memory"] else { return [] }
            guard let bytes = GuestMemory.read(memory, at: pointer, count: min(length, 4096)) else {
                throw HostRefusal(message: "offload.log(\(pointer), \(length)) points outside its \(memory.byteCount)-byte memory")
            }
            log(String(decoding: bytes, as: UTF8.self))
            return []
        }))
        imports.define(module: "offload", name: "progress", Function(store: store, parameters: [.i32], results: [], body: { _, arguments in
            if case .i32(let permille) = arguments[0] { progress(Double(min(Int32(bitPattern: permille), 1000).clamped(0)) / 1000) }
            return []
        }))
        return imports
    }
}

private extension Int32 {
    func clamped(_ low: Int32) -> Int32 { Swift.max(self, low) }
}

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

/// Refuses memory growth past a cap (`memory.grow` then returns -1, as WebAssembly specifies)
/// and remembers that it did.
final class MemoryCap: ResourceLimiter, @unchecked Sendable {
    // `@unchecked Sendable`: used by the one thread running the call, read after it.
    let bytes: Int
    private(set) var refused = false

    init(bytes: Int) { self.bytes = bytes }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        guard desired <= bytes else {
            refused = true
            return false
        }
        return true
    }

    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 100_000 }
}
