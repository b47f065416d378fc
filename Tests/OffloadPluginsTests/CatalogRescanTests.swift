import Foundation
import Offload
import Testing
@_spi(Benchmarks) @testable import OffloadPlugins

/// Plugin folders added or changed while the host runs are found without a restart.
@Suite struct CatalogRescanTests {
    static func module(answering digit: Int, padding: Int = 0) -> String {
        """
        (module
          (memory (export "memory") 1)
          (func (export "alloc") (param i32) (result i32) (i32.const 1024))
          (func (export "execute") (param i32 i32) (result i64)
            (i32.store8 (i32.const 0) (i32.const \(48 + digit)))
            (i64.const 1)))\(String(repeating: " ", count: padding))
        """
    }

    func answer(_ catalog: PluginCatalog, _ id: String) throws(OffloadError) -> String {
        let plugin = try catalog.plugin(id: id, requirement: VersionRequirement("*")!)
        let call = SandboxCall(plugin: plugin, limits: SandboxLimits(fuel: 10_000, memoryBytes: 1 << 20, timeout: .seconds(5)))
        return String(decoding: try call.run(operation: .execute, input: Array("{}".utf8)).output, as: UTF8.self)
    }

    @Test func aPluginAddedOrReplacedLaterIsFound() throws {
        let plugins = try TemporaryPlugins([("first", #"["execute"]"#, "")], module: Self.module(answering: 1))
        defer { plugins.remove() }
        let catalog = PluginCatalog(directory: plugins.directory, rescanInterval: .zero)
        #expect(try answer(catalog, "first") == "1")
        do {
            _ = try answer(catalog, "later")
            Issue.record("found a plugin not yet there")
        } catch { #expect(error.code == .pluginNotFound) }

        let later = try TemporaryPlugins([("later", #"["execute"]"#, "")], module: Self.module(answering: 2))
        defer { later.remove() }
        try FileManager.default.moveItem(atPath: later.directory + "/later", toPath: plugins.directory + "/later")
        #expect(try answer(catalog, "later") == "2")

        // A module replaced in place (same manifest) is loaded again.
        try Self.module(answering: 3, padding: 8).write(toFile: plugins.directory + "/first/module.wat", atomically: true, encoding: .utf8)
        #expect(try answer(catalog, "first") == "3")
        #expect(catalog.entries.count == 2)
    }
}
