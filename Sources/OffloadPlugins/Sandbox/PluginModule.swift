public import Offload
import WAT
@_spi(Fuzzing) import WasmKit
import WasmParser
import Synchronization

/// A plugin's module, parsed and checked once per worker: it imports nothing but `offload.log`
/// and `offload.progress`, exports `memory`, `alloc` and its operations with the contract's
/// signatures, and declares no more memory at start than its limit.
public final class PluginModule: Sendable {
    public let manifest: PluginManifest
    let module: WasmKit.Module
    /// The memory the module asks for at instantiation, in 64 KiB pages.
    let initialPages: UInt64
    /// The granted host functions this module imports.
    let grants: [HostImport]

    static let allowedImports: Set<String> = ["offload.log", "offload.progress"]
    /// Instances kept for calls that ask for a warm one (at most a few: one per thread calling at once).
    private let warm = Mutex<[LiveInstance]>([])
    /// Instances made ahead and never called, for fresh calls (see ``takeSpare()``).
    private let spares = Mutex<Spares>(Spares())

    /// Spares taken by fresh calls so far.
    let sparesTaken = Atomic<Int>(0)

    private struct Spares {
        var ready: [LiveInstance] = []
        var making = false
        /// Used fresh instances, waiting for a background task to free them.
        var retired: [LiveInstance] = []
    }

    static let pageSize = 65_536

    /// - Parameter bytes: the module's file (`.wasm` binary, or `.wat` text when `isText`).
    /// - Throws: ``OffloadError/Code/invalidPlugin``, or ``OffloadError/Code/permissionDenied``
    ///   for an import that is not allowed.
    ///   - grants: the functions the host grants to plugins that ask for them.
    public init(manifest: PluginManifest, bytes: [UInt8], isText: Bool, grants: [HostImport] = []) throws(OffloadError) {
        let name = "plugin \(manifest.id) \(manifest.version) (\(manifest.module))"
        var binary = bytes
        if isText {
            try TextNesting.check(bytes, name: name)
            do { binary = try wat2wasm(String(decoding: bytes, as: UTF8.self)) } catch {
                throw .plugin(.invalidPlugin, "\(name) is not valid WebAssembly text: \(error)")
            }
        }
        if let expected = manifest.sha256 {
            let actual = SHA256.hex(bytes)
            guard actual == expected else {
                throw .plugin(.invalidPlugin, "\(name): the module's SHA-256 is \(actual), the manifest says \(expected)")
            }
        }
        do { module = try parseWasm(bytes: binary) } catch {
            throw .plugin(.invalidPlugin, "\(name) is not a valid WebAssembly module: \(Self.describe(error))")
        }
        var granted: [HostImport] = []
        for entry in module.imports where !Self.allowedImports.contains("\(entry.module).\(entry.name)") {
            let asked = manifest.permissions.contains(entry.module) || manifest.permissions.contains("\(entry.module).\(entry.name)")
            let grant = grants.first { $0.module == entry.module && $0.name == entry.name }
            if asked, let grant, case .function = entry.descriptor {
                granted.append(grant)
                continue
            }
            throw .plugin(
                .permissionDenied,
                "\(name) imports \(entry.module).\(entry.name)"
                    + (asked
                        ? ", which its manifest asks for but this host does not grant"
                        : grant != nil
                            ? ", which this host grants only to plugins whose manifest lists it in permissions" : ", which plugins may not use")
                    + " (a plugin may import offload.log, offload.progress and what the host grants it)")
        }
        self.grants = granted
        guard module.exports.contains(where: { if case .memory = $0.descriptor { $0.name == "memory" } else { false } }) else {
            throw .plugin(.invalidPlugin, "\(name) does not export its memory as \"memory\"")
        }
        initialPages = Self.initialMemoryPages(binary)
        self.manifest = manifest
        try checkSignatures(name)
    }

    /// Instantiates the module once (a few pages of memory, a little fuel) to check the types of
    /// its exported functions; a start function that traps or spins makes it invalid too.
    private func checkSignatures(_ name: String) throws(OffloadError) {
        let store = Store(engine: SandboxCall.engine)
        store.resourceLimiter = MemoryCap(bytes: 64 << 20)
        store.fuel = Fuel(remaining: 10_000_000)
        guard Int(initialPages) * Self.pageSize <= 64 << 20 else { return }
        let instance: Instance
        do { instance = try module.instantiate(store: store, imports: SandboxCall.imports(store, sinks: CallSinks(), grants: grants)) } catch {
            throw .plugin(.invalidPlugin, "\(name) cannot be instantiated: \(Self.describe(error))")
        }
        func expect(_ export: String, _ type: FunctionType) throws(OffloadError) {
            let signature = "(\(type.parameters.map { "\($0)" }.joined(separator: ", "))) -> \(type.results.map { "\($0)" }.joined(separator: ", "))"
            guard let function = instance.exports[function: export] else {
                throw .plugin(.invalidPlugin, "\(name) does not export the function \"\(export)\" \(signature)")
            }
            guard function.type == type else {
                throw .plugin(.invalidPlugin, "\(name) exports \"\(export)\" with the wrong signature (the contract's is \(signature))")
            }
        }
        try expect("alloc", FunctionType(parameters: [.i32], results: [.i32]))
        for operation in manifest.operations.sorted(by: { $0.rawValue < $1.rawValue }) {
            try expect(operation.rawValue, FunctionType(parameters: [.i32, .i32], results: [.i64]))
        }
    }

    /// An instance made ahead of time and never called — as fresh as one made now, its code
    /// already translated — or `nil` when none is ready. A fresh call that takes one asks for the
    /// next with ``makeSpare()``; a call that finds none instantiates the module itself.
    func takeSpare() -> LiveInstance? {
        let spare = spares.withLock { $0.ready.popLast() }
        if spare != nil { sparesTaken.add(1, ordering: .relaxed) }
        return spare
    }

    /// Makes a spare instance on a background task, unless one is ready or being made. Its start
    /// function runs under the probe's budget (10,000,000 fuel, 1 s); a failure makes no spare
    /// (the next fresh call then meets the failure itself, under its own limits).
    func makeSpare() {
        let start = spares.withLock { spares -> Bool in
            guard spares.ready.isEmpty, !spares.making else { return false }
            spares.making = true
            return true
        }
        guard start else { return }
        Task.detached(priority: .utility) { [self] in
            let store = Store(engine: SandboxCall.eagerEngine)
            store.fuel = Fuel(remaining: 10_000_000)
            let watchdog = Watchdog(store: store, after: .seconds(1))
            let spare = try? LiveInstance(plugin: self, store: store, cap: MemoryCap(bytes: 64 << 20))
            watchdog.cancel()
            spares.withLock { spares in
                spares.making = false
                if let spare { spares.ready.append(spare) }
            }
        }
    }

    /// Frees a used fresh instance on a background task, off the call's path.
    func retire(_ instance: LiveInstance) {
        instance.sinks.clear()
        let first = spares.withLock { spares -> Bool in
            spares.retired.append(instance)
            return spares.retired.count == 1
        }
        guard first else { return }
        Task.detached(priority: .utility) { [self] in
            let retired = spares.withLock { spares in
                defer { spares.retired = [] }
                return spares.retired
            }
            withExtendedLifetime(retired) {}
        }
    }

    func takeWarmInstance(memoryBytes: Int) -> LiveInstance? {
        warm.withLock { instances in
            guard let index = instances.firstIndex(where: { $0.cap.bytes == memoryBytes }) else { return nil }
            return instances.remove(at: index)
        }
    }

    func returnWarmInstance(_ instance: LiveInstance) {
        warm.withLock { instances in
            if instances.count < 4 { instances.append(instance) }
        }
    }

    /// WasmKit's error text without its wrapping (`"Message(text: "…")" at offset 0x4`).
    static func describe(_ error: any Error) -> String {
        var text = String(String(describing: error).split(separator: "\n").first ?? "")
        if let start = text.firstRange(of: "Message(text: \""), let end = text.ranges(of: "\")").last, start.upperBound <= end.lowerBound {
            text = String(text[start.upperBound..<end.lowerBound]) + text[end.upperBound...].replacing("\"", with: "")
        }
        if text.hasPrefix("Trap: ") { text.removeFirst(6) }
        return text
    }

    /// The pages of the module's own memory at start (0 when it has none).
    private static func initialMemoryPages(_ binary: [UInt8]) -> UInt64 {
        var parser = WasmParser.Parser(bytes: binary)
        while let payload = try? parser.parseNext() {
            if case .memorySection(let memories) = payload { return memories.map(\.type.min).max() ?? 0 }
        }
        return 0
    }
}
