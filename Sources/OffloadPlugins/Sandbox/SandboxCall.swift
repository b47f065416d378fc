public import Offload
#if canImport(Glibc)
import Glibc
#endif
@_spi(Fuzzing) import WasmKit
import WasmParser

/// One call of a plugin operation, in a fresh instance or a kept warm one: the input written into
/// the plugin's memory through its `alloc`, the operation called under fuel, a memory cap and a
/// deadline, and the output read back, every guest pointer checked against the memory before
/// the host reads it. (Benchmarks call it directly, through its SPI.)
@_spi(Benchmarks) public struct SandboxCall {
    public let plugin: PluginModule
    public let limits: SandboxLimits
    /// Lines the plugin logs through `offload.log`.
    package var log: @Sendable (String) -> Void = { _ in }
    /// Progress the plugin reports through `offload.progress` (0…1).
    package var progress: @Sendable (Double) -> Void = { _ in }

    public init(plugin: PluginModule, limits: SandboxLimits) {
        self.plugin = plugin
        self.limits = limits
    }

    public struct Result {
        public var output: [UInt8]
        public var fuelUsed: UInt64
    }

    /// A refusal by the host while the plugin runs (a log pointer outside memory), carried out
    /// of the interpreter as an error.
    struct HostRefusal: Error { var message: String }

    /// The engine of calls, translating code at each function's first call (a call pays only for
    /// what it runs).
    static let engine = makeEngine(.lazy)
    /// The same engine translating all the code when a module is instantiated: for spare
    /// instances made ahead in the background (``PluginModule/makeSpare()``), ready to run.
    static let eagerEngine = makeEngine(.eager)

    /// Fuel-metered, with software bounds checks: WasmKit's default guard pages reserve 4 GiB
    /// of address space per instance and unmapping them costs a TLB shootdown on every core, which
    /// doubled the cost of a fresh instance (262 → 134 µs per call of a small C plugin) for no gain
    /// in the plugins' own speed (fib(25) 2.84 → 2.70 ms).
    private static func makeEngine(_ compilation: EngineConfiguration.CompilationMode) -> Engine {
        var configuration = EngineConfiguration(compilationMode: compilation, fuelMetering: true)
        configuration.memoryBoundsChecking = .software
        return Engine(configuration: configuration)
    }

    /// Runs `operation` on `input`: in a fresh instance, or with `warm` in an instance kept from an
    /// earlier call of the same plugin (state carries over; a failed call's instance is dropped).
    /// `cancellation` stops the call when the job is cancelled (it then fails `cancelled`).
    public func run(
        operation: PluginManifest.Operation, input: [UInt8], warm: Bool = false,
        cancellation: CallCancellation? = nil
    ) throws(OffloadError) -> Result {
        let name = "plugin \(plugin.manifest.id) \(plugin.manifest.version)"
        guard Int(plugin.initialPages) * PluginModule.pageSize <= limits.memoryBytes else {
            throw .plugin(
                .memoryLimitExceeded,
                "\(name) starts with \(plugin.initialPages) pages (\((Int(plugin.initialPages) * PluginModule.pageSize) >> 20) MiB) of memory, over its limit of \(limits.memoryBytes >> 20) MiB"
            )
        }
        guard input.count <= Int(Int32.max) else { throw OffloadError.plugin(.invalidPayload, "payload.input is too large for a plugin") }
        var live = warm ? plugin.takeWarmInstance(memoryBytes: limits.memoryBytes) : freshSpare()
        let store = live?.store ?? Store(engine: Self.engine)
        let cap = warm ? live?.cap ?? MemoryCap(bytes: limits.memoryBytes) : MemoryCap(bytes: limits.memoryBytes)
        cap.rearm()
        live?.limit(cap)
        store.fuel = Fuel(remaining: limits.fuel)
        let watchdog = Watchdog(store: store, after: limits.timeout)
        defer {
            cancellation?.detach()
            watchdog.cancel()
        }
        if let cancellation, !cancellation.attach(watchdog) { throw OffloadError(.cancelled, "\(name) was cancelled before it ran") }
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
                throw OffloadError.plugin(
                    .invalidPluginOutput, "\(name): alloc(\(input.count)) returned \(pointer), outside its \(instance.memory.byteCount)-byte memory")
            }
            guard case .i64(let packed)? = try instance.call(function, [.i32(pointer), .i32(UInt32(input.count))]) else {
                throw OffloadError.plugin(.invalidPluginOutput, "\(name): \(operation.rawValue) returned no i64")
            }
            let (outPointer, outLength) = (UInt32(truncatingIfNeeded: packed >> 32), UInt32(truncatingIfNeeded: packed))
            guard let output = GuestMemory.read(instance.memory, at: outPointer, count: outLength) else {
                throw OffloadError.plugin(
                    .invalidPluginOutput,
                    "\(name): \(operation.rawValue) returned output at \(outPointer) of \(outLength) bytes, outside its \(instance.memory.byteCount)-byte memory"
                )
            }
            let used = limits.fuel - (store.fuel?.remaining ?? 0)
            if warm {
                instance.sinks.clear()
                plugin.returnWarmInstance(instance)
            } else {
                plugin.retire(instance)
            }
            return Result(output: output, fuelUsed: used)
        } catch let error as OffloadError {
            throw error
        } catch let refusal as HostRefusal {
            throw .plugin(.invalidPluginOutput, "\(name): \(refusal.message)")
        } catch {
            let reason = PluginModule.describe(error)
            if reason.contains("out of fuel") {
                if cancellation?.isCancelled == true { throw OffloadError(.cancelled, "\(name) was cancelled while it ran") }
                if watchdog.fired {
                    throw OffloadError(.timedOut, "\(name) ran past its \(Int(limits.timeout.milliseconds)) ms deadline and was stopped")
                }
                throw .plugin(.cpuLimitExceeded, "\(name) used up its fuel (\(limits.fuel) units)")
            }
            if cap.refused {
                throw .plugin(
                    .memoryLimitExceeded,
                    "\(name) needed more than its \(limits.memoryBytes >> 20) MiB of memory (the growth was refused, then: \(reason))")
            }
            if error is Trap { throw .plugin(.pluginTrapped, "\(name) trapped: \(reason)") }
            throw .plugin(.invalidPlugin, "\(name) could not be instantiated: \(reason)")
        }
    }

    /// A spare instance for a fresh call, when one is ready and within this call's memory limit;
    /// asks for the next one either way.
    private func freshSpare() -> LiveInstance? {
        defer { plugin.makeSpare() }
        guard let spare = plugin.takeSpare(), spare.memory.byteCount <= limits.memoryBytes else { return nil }
        return spare
    }

    /// Instantiates the plugin in a store of its own and drops the instance: what every fresh
    /// call starts with (the benchmark's "instantiate a cached module").
    public func instantiate() throws {
        let store = Store(engine: Self.engine)
        store.fuel = Fuel(remaining: limits.fuel)
        _ = try LiveInstance(plugin: plugin, store: store, cap: MemoryCap(bytes: limits.memoryBytes))
    }

    /// `offload.log(ptr, len)` and `offload.progress(permille)`, reporting to `sinks`, and the
    /// host functions granted to the plugin.
    static func imports(_ store: Store, sinks: CallSinks, grants: [HostImport]) -> Imports {
        var imports = Imports()
        for grant in grants { imports.define(module: grant.module, name: grant.name, grant.function(in: store)) }
        imports.define(
            module: "offload", name: "log",
            Function(
                store: store, parameters: [.i32, .i32], results: [],
                body: { caller, arguments in
                    guard case .i32(let pointer) = arguments[0], case .i32(let length) = arguments[1],
                        let memory = caller.instance?.exports[memory: "memory"]
                    else { return [] }
                    guard let bytes = GuestMemory.read(memory, at: pointer, count: min(length, 4096)) else {
                        throw HostRefusal(message: "offload.log(\(pointer), \(length)) points outside its \(memory.byteCount)-byte memory")
                    }
                    sinks.log(String(decoding: bytes, as: UTF8.self))
                    return []
                }))
        imports.define(
            module: "offload", name: "progress",
            Function(
                store: store, parameters: [.i32], results: [],
                body: { _, arguments in
                    if case .i32(let permille) = arguments[0] { sinks.progress(Double(min(Int32(bitPattern: permille), 1000).clamped(0)) / 1000) }
                    return []
                }))
        return imports
    }
}

private extension Int32 {
    func clamped(_ low: Int32) -> Int32 { Swift.max(self, low) }
}
