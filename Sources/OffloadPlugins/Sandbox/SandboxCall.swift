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

    /// Runs `operation` on `input`: in a fresh instance, or with `warm` in an instance kept from an
    /// earlier call of the same plugin (state carries over; a failed call's instance is dropped).
    func run(operation: PluginManifest.Operation, input: [UInt8], warm: Bool = false) throws(OffloadError) -> Result {
        let name = "plugin \(plugin.manifest.id) \(plugin.manifest.version)"
        guard Int(plugin.initialPages) * PluginModule.pageSize <= limits.memoryBytes else {
            throw .plugin(.memoryLimitExceeded, "\(name) starts with \(plugin.initialPages) pages (\((Int(plugin.initialPages) * PluginModule.pageSize) >> 20) MiB) of memory, over its limit of \(limits.memoryBytes >> 20) MiB")
        }
        guard input.count <= Int(Int32.max) else { throw OffloadError.plugin(.invalidPayload, "payload.input is too large for a plugin") }
        var live = warm ? plugin.takeWarmInstance(memoryBytes: limits.memoryBytes) : nil
        let store = live?.store ?? Store(engine: Self.engine)
        let cap = live?.cap ?? MemoryCap(bytes: limits.memoryBytes)
        store.fuel = Fuel(remaining: limits.fuel)
        let watchdog = Watchdog(store: store, after: limits.timeout)
        defer { watchdog.cancel() }
        do {
            if live == nil { live = try LiveInstance(plugin: plugin, store: store, cap: cap) }
            let instance = live!
            instance.sinks.log = log
            instance.sinks.progress = progress
            guard let function = instance.instance.exports[function: operation.rawValue] else {
                throw OffloadError.plugin(.invalidPlugin, "\(name) lacks an export it declared")
            }
            guard let pointer = try instance.allocate(input.count) else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): alloc returned no i32")
            }
            guard GuestMemory.write(input, to: instance.memory, at: pointer) else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): alloc(\(input.count)) returned \(pointer), outside its \(instance.memory.byteCount)-byte memory")
            }
            guard case .i64(let packed)? = try function([.i32(pointer), .i32(UInt32(input.count))]).first else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): \(operation.rawValue) returned no i64")
            }
            let (outPointer, outLength) = (UInt32(truncatingIfNeeded: packed >> 32), UInt32(truncatingIfNeeded: packed))
            guard let output = GuestMemory.read(instance.memory, at: outPointer, count: outLength) else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): \(operation.rawValue) returned output at \(outPointer) of \(outLength) bytes, outside its \(instance.memory.byteCount)-byte memory")
            }
            let used = limits.fuel - (store.fuel?.remaining ?? 0)
            if warm { plugin.returnWarmInstance(instance) }
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

    /// `offload.log(ptr, len)` and `offload.progress(permille)`, reporting to `sinks`.
    static func imports(_ store: Store, sinks: CallSinks) -> Imports {
        var imports = Imports()
        imports.define(module: "offload", name: "log", Function(store: store, parameters: [.i32, .i32], results: [], body: { caller, arguments in
            guard case .i32(let pointer) = arguments[0], case .i32(let length) = arguments[1],
                  let memory = caller.instance?.exports[memory: "memory"] else { return [] }
            guard let bytes = GuestMemory.read(memory, at: pointer, count: min(length, 4096)) else {
                throw HostRefusal(message: "offload.log(\(pointer), \(length)) points outside its \(memory.byteCount)-byte memory")
            }
            sinks.log(String(decoding: bytes, as: UTF8.self))
            return []
        }))
        imports.define(module: "offload", name: "progress", Function(store: store, parameters: [.i32], results: [], body: { _, arguments in
            if case .i32(let permille) = arguments[0] { sinks.progress(Double(min(Int32(bitPattern: permille), 1000).clamped(0)) / 1000) }
            return []
        }))
        return imports
    }
}

/// Where an instance's `offload.log` and `offload.progress` go: the call running in it.
final class CallSinks: @unchecked Sendable {
    // `@unchecked Sendable`: set before each call, used by the thread running it.
    var log: @Sendable (String) -> Void = { _ in }
    var progress: @Sendable (Double) -> Void = { _ in }
}

/// An instance of a plugin's module in a store of its own, ready for calls.
final class LiveInstance: @unchecked Sendable {
    // `@unchecked Sendable`: used by one call at a time (a warm instance is taken, then given back).
    let store: Store
    let cap: MemoryCap
    let instance: Instance
    let memory: WasmKit.Memory
    let alloc: Function
    let sinks = CallSinks()

    init(plugin: PluginModule, store: Store, cap: MemoryCap) throws {
        store.resourceLimiter = cap
        self.store = store
        self.cap = cap
        instance = try plugin.module.instantiate(store: store, imports: SandboxCall.imports(store, sinks: sinks))
        guard let memory = instance.exports[memory: "memory"], let alloc = instance.exports[function: "alloc"] else {
            throw OffloadError.plugin(.invalidPlugin, "plugin \(plugin.manifest.id) \(plugin.manifest.version) lacks its memory or alloc")
        }
        self.memory = memory
        self.alloc = alloc
    }

    /// The plugin's `alloc(length)`; `nil` when it does not return an i32.
    func allocate(_ length: Int) throws -> UInt32? {
        guard case .i32(let pointer)? = try alloc([.i32(UInt32(length))]).first else { return nil }
        return pointer
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
