import Offload
import Testing
@_spi(Benchmarks) @testable import OffloadPlugins

/// Host functions reach only the plugins whose manifest asks for them and whose host grants them.
@Suite struct HostImportTests {
    /// Plugins importing `host.add` and `host.fail`, asking for both, for one, or for none;
    /// `transform` answers add(2, 3), `execute` calls `host.fail`.
    static func makePlugins() throws -> TemporaryPlugins {
        try TemporaryPlugins(
            [
                ("asks", #"["transform","execute"]"#, #","permissions":["host"]"#),
                ("asks-for-one", #"["transform","execute"]"#, #","permissions":["host.add"]"#),
                ("sneaks", #"["transform","execute"]"#, "")
            ],
            module: """
                (module
                  (import "host" "add" (func $add (param i32 i32) (result i32)))
                  (import "host" "fail" (func $fail))
                  (memory (export "memory") 1)
                  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
                  (func (export "transform") (param i32 i32) (result i64)
                    (i32.store8 (i32.const 0) (i32.add (i32.const 48) (call $add (i32.const 2) (i32.const 3))))
                    (i64.const 1))
                  (func (export "execute") (param i32 i32) (result i64) (call $fail) (i64.const 0)))
                """)
    }

    static let grants = [
        HostImport(module: "host", name: "add", parameters: [.i32, .i32], results: [.i32]) { arguments, memory in
            #expect(memory?.byteCount == 65_536)
            return [arguments[0] + arguments[1]]
        },
        HostImport(module: "host", name: "fail") { _, _ in throw OffloadError(.invalidPayload, "host.fail refuses") }
    ]

    func call(_ catalog: PluginCatalog, _ id: String, _ operation: PluginManifest.Operation) throws(OffloadError) -> String {
        let plugin = try catalog.plugin(id: id, requirement: VersionRequirement("*")!)
        let call = SandboxCall(plugin: plugin, limits: SandboxLimits(fuel: 10_000, memoryBytes: 1 << 20, timeout: .seconds(5)))
        return String(decoding: try call.run(operation: operation, input: Array("{}".utf8)).output, as: UTF8.self)
    }

    @Test func aGrantedFunctionReachesOnlyPluginsThatAskForIt() throws {
        let plugins = try Self.makePlugins()
        defer { plugins.remove() }
        let directory = plugins.directory
        let granting = PluginCatalog(directory: directory, grants: Self.grants)
        #expect(try call(granting, "asks", .transform) == "5")

        // The host's own error fails the job under its code; the worker goes on.
        #expect(throws: OffloadError.self) { try call(granting, "asks", .execute) }
        do { _ = try call(granting, "asks", .execute) } catch {
            #expect(error.code == .invalidPayload && error.message.contains("host.fail refuses"))
        }

        // Asking for one function of a module does not grant the others.
        do {
            _ = try call(granting, "asks-for-one", .transform)
            Issue.record("host.fail was granted")
        } catch {
            #expect(
                error.code == .permissionDenied && error.message.contains("host.fail, which this host grants only to plugins whose manifest lists it")
            )
        }
        do {
            _ = try call(granting, "sneaks", .transform)
            Issue.record("a plugin that did not ask got host.add")
        } catch {
            #expect(error.code == .permissionDenied && error.message.contains("host.add, which this host grants only"))
        }
        do {
            _ = try call(PluginCatalog(directory: directory), "asks", .transform)
            Issue.record("an ungranted import loaded")
        } catch {
            #expect(error.code == .permissionDenied && error.message.contains("asks for but this host does not grant"))
        }
    }

    @Test func aGrantOfTheWrongTypeMakesThePluginInvalid() throws {
        let plugins = try Self.makePlugins()
        defer { plugins.remove() }
        let directory = plugins.directory
        let wrong = [HostImport(module: "host", name: "add", results: [.i64]) { _, _ in [0] }, Self.grants[1]]
        do {
            _ = try call(PluginCatalog(directory: directory, grants: wrong), "asks", .transform)
            Issue.record("a mistyped import linked")
        } catch {
            #expect(error.code == .invalidPlugin)
        }
    }
}
