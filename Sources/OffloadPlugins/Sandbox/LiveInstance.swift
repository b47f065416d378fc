import Offload
@_spi(Fuzzing) import WasmKit

/// Where an instance's `offload.log` and `offload.progress` go: the call running in it.
final class CallSinks: @unchecked Sendable {
    // `@unchecked Sendable`: set before each call, used by the thread running it.
    var log: @Sendable (String) -> Void = { _ in }
    var progress: @Sendable (Double) -> Void = { _ in }

    /// Lets go of the last call's sinks (a kept instance must not hold on to its job's context).
    func clear() {
        log = { _ in }
        progress = { _ in }
    }
}

/// An instance of a plugin's module in a store of its own, ready for calls.
final class LiveInstance: @unchecked Sendable {
    // `@unchecked Sendable`: used by one call at a time (a warm instance is taken, then given back).
    let store: Store
    /// The memory cap of the call running in it (a spare gets its caller's).
    private(set) var cap: MemoryCap
    let instance: Instance
    let memory: WasmKit.Memory
    let alloc: Function
    let sinks = CallSinks()
    /// The interpreter's stack for this instance's calls (WasmKit otherwise allocates one per call).
    private var stack: ExecutionStack

    init(plugin: PluginModule, store: Store, cap: MemoryCap) throws {
        store.resourceLimiter = cap
        self.store = store
        self.cap = cap
        instance = try plugin.module.instantiate(store: store, imports: SandboxCall.imports(store, sinks: sinks, grants: plugin.grants))
        guard let memory = instance.exports[memory: "memory"], let alloc = instance.exports[function: "alloc"] else {
            throw OffloadError.plugin(.invalidPlugin, "plugin \(plugin.manifest.id) \(plugin.manifest.version) lacks its memory or alloc")
        }
        self.memory = memory
        self.alloc = alloc
        stack = ExecutionStack(engine: store.engine)
    }

    /// Puts the instance under `cap` (a spare made ahead, taken by a call with its own limit).
    func limit(_ cap: MemoryCap) {
        self.cap = cap
        store.resourceLimiter = cap
    }

    /// Calls `function` of this instance on the instance's stack.
    func call(_ function: Function, _ arguments: [Value]) throws -> Value? {
        try function.invoke(arguments, on: &stack).first
    }

    /// The plugin's `alloc(length)`; `nil` when it does not return an i32.
    func allocate(_ length: Int) throws -> UInt32? {
        guard case .i32(let pointer)? = try call(alloc, [.i32(UInt32(length))]) else { return nil }
        return pointer
    }
}
