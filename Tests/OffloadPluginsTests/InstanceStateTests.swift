import Offload
import Synchronization
import Testing
@_spi(Benchmarks) @testable import OffloadPlugins

/// Fresh calls never see another call's state, whether they instantiate the module themselves
/// or take a spare instance made ahead; warm calls do see it.
@Suite struct InstanceStateTests {
    /// A plugin that answers how many times it has been called in this instance.
    static func makeCounter() throws -> TemporaryPlugins {
        try TemporaryPlugins(
            [("counter", #"["execute"]"#, "")],
            module: """
                (module
                  (memory (export "memory") 1)
                  (global $calls (mut i32) (i32.const 0))
                  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
                  (func (export "execute") (param i32 i32) (result i64)
                    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
                    (i32.store8 (i32.const 0) (i32.add (i32.const 48) (global.get $calls)))
                    (i64.const 1)))
                """)
    }

    @Test func freshCallsNeverShareStateEvenFromSpares() async throws {
        let plugins = try Self.makeCounter()
        defer { plugins.remove() }
        let plugin = try PluginCatalog(directory: plugins.directory).plugin(id: "counter", requirement: VersionRequirement("*")!)
        let call = SandboxCall(plugin: plugin, limits: SandboxLimits(fuel: 10_000, memoryBytes: 1 << 20, timeout: .seconds(5)))
        func answer(warm: Bool) throws -> String {
            String(decoding: try call.run(operation: .execute, input: Array("{}".utf8), warm: warm).output, as: UTF8.self)
        }
        var answers: [String] = []
        for round in 0..<30 {
            answers.append(try answer(warm: false))
            // Most rounds leave time for the spare to be made; some do not.
            if round % 3 != 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(answers == Array(repeating: "1", count: 30))
        #expect(plugin.sparesTaken.load(ordering: .relaxed) > 0)
        #expect(try [answer(warm: true), answer(warm: true), answer(warm: true)] == ["1", "2", "3"])
    }
}
