import Offload
import WasmKit

/// A function the host grants to plugins, beyond the `offload.log` and `offload.progress`
/// every plugin may import. A plugin gets it only when its manifest asks for it in
/// `permissions` (as `module.name`, or `module` for all of a module's functions) and the host
/// passes it to the catalog (`registerPlugins(directory:grants:)`); any other import is refused
/// when the module is loaded (`permissionDenied`).
///
/// ```swift
/// let clock = HostImport(module: "host", name: "unix_ms", results: [.i64]) { _, _ in
///     [Int64(time(nil)) * 1000]
/// }
/// try registry.registerPlugins(directory: "plugins", grants: [clock])
/// ```
public struct HostImport: Sendable {
    /// The integer types a granted function passes (i32 values travel as their bit pattern).
    public enum ValueType: Sendable { case i32, i64 }

    public var module: String
    public var name: String
    public var parameters: [ValueType]
    public var results: [ValueType]
    /// Called on the plugin's thread with its arguments and its memory; returns one value per
    /// result type. An `OffloadError` it throws fails the job under its own code; any other
    /// error fails it `handlerFailed`.
    public var body: @Sendable (_ arguments: [Int64], _ memory: PluginMemory?) throws -> [Int64]

    public init(
        module: String, name: String, parameters: [ValueType] = [], results: [ValueType] = [],
        body: @escaping @Sendable (_ arguments: [Int64], _ memory: PluginMemory?) throws -> [Int64]
    ) {
        self.module = module
        self.name = name
        self.parameters = parameters
        self.results = results
        self.body = body
    }

    /// `module.name`.
    public var qualifiedName: String { "\(module).\(name)" }

    /// The WasmKit function calling `body` in `store`.
    func function(in store: Store) -> Function {
        let kinds = { (types: [ValueType]) in types.map { $0 == .i32 ? WasmTypes.ValueType.i32 : .i64 } }
        return Function(store: store, parameters: kinds(parameters), results: kinds(results)) { caller, arguments in
            let values = arguments.map { value -> Int64 in
                switch value {
                case .i32(let bits): Int64(Int32(bitPattern: bits))
                case .i64(let bits): Int64(bitPattern: bits)
                default: 0
                }
            }
            let memory = caller.instance?.exports[memory: "memory"].map(PluginMemory.init)
            let produced: [Int64]
            do { produced = try body(values, memory) } catch let error as OffloadError { throw error } catch {
                throw OffloadError(.handlerFailed, "host import \(qualifiedName) failed: \(error)")
            }
            guard produced.count == results.count else {
                throw OffloadError(.handlerFailed, "host import \(qualifiedName) returned \(produced.count) values for \(results.count) results")
            }
            return zip(produced, results).map { value, type in
                type == .i32 ? .i32(UInt32(truncatingIfNeeded: value)) : .i64(UInt64(bitPattern: value))
            }
        }
    }
}

/// A plugin's linear memory as a granted host function sees it: every access is bounds-checked.
public struct PluginMemory {
    let memory: WasmKit.Memory

    public var byteCount: Int { memory.byteCount }

    /// `count` bytes at `pointer`, or `nil` when they are not all inside the memory.
    public func read(at pointer: UInt32, count: UInt32) -> [UInt8]? { GuestMemory.read(memory, at: pointer, count: count) }

    /// Writes `bytes` at `pointer`; `false` (and nothing written) when they do not fit.
    public func write(_ bytes: [UInt8], at pointer: UInt32) -> Bool { GuestMemory.write(bytes, to: memory, at: pointer) }
}
