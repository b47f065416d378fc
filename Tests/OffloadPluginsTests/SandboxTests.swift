import Offload
import Testing
@_spi(Benchmarks) @testable import OffloadPlugins
import WasmKit

/// Plugin jobs through a pool of thread workers, over the example plugins (`examples/plugins`):
/// the well-behaved plugins' results, and each hostile plugin failing under its own code with
/// the worker still serving.
@Suite struct SandboxTests {
    /// `examples/plugins` of this package.
    static let directory: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/examples/plugins"
    }()

    private func run(_ payloads: [String]) async throws -> [JobOutcome] {
        var registry = HandlerRegistry()
        try registry.registerPlugins(directory: Self.directory)
        return try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            var outcomes: [JobOutcome] = []
            for payload in payloads {
                outcomes.append(try await pool.process(Job(kind: "plugin", payload: .json(try JSONParser.parse(payload)))))
            }
            return outcomes
        }
    }

    @Test func pluginsInCWatAndEmbeddedSwiftRunAndReportFuelAndLogs() async throws {
        let outcomes = try await run([
            #"{"pluginId":"title-case","pluginVersion":"^1.0","operation":"transform","input":{"title":"web workers for swift","n":3}}"#,
            // A first call translates its module (a text module, here) within the deadline, which a
            // job can only shorten: the manifest gives 2 s, room for a loaded machine.
            #"{"pluginId":"echo","operation":"transform","input":{"kept":[1,2,3]}}"#,
            #"{"pluginId":"echo","pluginVersion":"~1.0","operation":"transform","input":{}}"#,
            #"{"pluginId":"fnv-hash","operation":"analyze","input":"hello"}"#,
            #"{"pluginId":"metadata","operation":"validate","input":{"title":""},"context":{"executionMode":"system"}}"#
        ])
        let title = try outcomes[0].value(as: JSONValue.self)
        #expect(title["output"] == (try JSONParser.parse(#"{"title":"Web Workers For Swift","n":3}"#)))
        #expect(title["pluginVersion"] == .string("1.1.0"))
        #expect((title["fuelUsed"]?.doubleValue ?? 0) > 0)
        #expect(title["logs"] == .array([.string("title-cased")]))
        // Without a version the highest one runs; a range picks within it.
        let echo = try outcomes[1].value(as: JSONValue.self)
        #expect(echo["output"] == (try JSONParser.parse(#"{"kept":[1,2,3]}"#)) && echo["pluginVersion"] == .string("1.2.0"))
        #expect(try outcomes[2].value(as: JSONValue.self)["output"] == (try JSONParser.parse(#"{"legacy":true}"#)))
        // FNV-1a 64 of the 7 bytes "hello" with its quotes, as Python computes it.
        #expect(try outcomes[3].value(as: JSONValue.self)["output"] == (try JSONParser.parse(#"{"fnv1a64":"dcdd4ba1ec7623eb","bytes":7}"#)))
        let system = try outcomes[4].value(as: JSONValue.self)
        #expect(system["output"]?["valid"] == .bool(false))
        #expect(system["output"]?["errors"] == .array([.string("title is required")]))
    }

    @Test(arguments: [
        ("hostile-spin", #""context":{"fuel":100000}"#, OffloadError.Code.cpuLimitExceeded, "used up its fuel (100000 units)"),
        ("hostile-spin", #""context":{"fuel":1000000000000,"timeoutMs":150}"#, .timedOut, "150 ms deadline"),
        ("hostile-grow", "", .memoryLimitExceeded, "more than its 2 MiB"),
        ("hostile-huge-memory", "", .memoryLimitExceeded, "starts with 2000 pages (125 MiB)"),
        ("hostile-trap", "", .pluginTrapped, "trapped: unreachable"),
        ("hostile-recursion", "", .pluginTrapped, "call stack exhausted"),
        ("hostile-bad-pointer", "", .invalidPluginOutput, "outside its 65536-byte memory"),
        ("hostile-not-json", "", .invalidPluginOutput, "not JSON"),
        ("hostile-bad-log", "", .invalidPluginOutput, "offload.log(70000, 10) points outside"),
        ("hostile-missing-export", "", .invalidPlugin, "does not export the function \"transform\""),
        ("hostile-bad-checksum", "", .invalidPlugin, "SHA-256"),
        ("hostile-malformed", "", .invalidPlugin, "magic header not detected"),
        ("hostile-bad-manifest", "", .invalidPlugin, "not a semantic version"),
        ("hostile-wasi", "", .permissionDenied, "wasi_snapshot_preview1.fd_write"),
        ("no-such-plugin", "", .pluginNotFound, "no plugin 'no-such-plugin'")
    ])
    func aHostilePluginFailsUnderItsCodeAndTheWorkerServesOn(id: String, context: String, code: OffloadError.Code, message: String) async throws {
        let extra = context.isEmpty ? "" : "," + context
        let outcomes = try await run([
            #"{"pluginId":"\#(id)","operation":"transform","input":{"a":1}\#(extra)}"#,
            #"{"pluginId":"title-case","operation":"transform","input":{"after":"it"}}"#
        ])
        #expect(outcomes[0].error?.code == code, "\(outcomes[0].error?.description ?? "completed")")
        #expect(outcomes[0].error?.message.contains(message) == true, "\(outcomes[0].error?.message ?? "")")
        #expect(try outcomes[1].value(as: JSONValue.self)["output"] == (try JSONParser.parse(#"{"after":"It"}"#)))
    }

    @Test func cancellingARunningPluginStopsItAndKeepsItsWorker() async throws {
        var registry = HandlerRegistry()
        try registry.registerPlugins(directory: Self.directory)
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            let events = pool.events()
            // Fuel for hours and a deadline far away: only the cancellation can end it soon.
            let spin = try JSONParser.parse(
                #"{"pluginId":"hostile-spin","operation":"transform","input":{},"context":{"fuel":1000000000000,"timeoutMs":60000}}"#)
            let handle = try await pool.submit(Job(id: "spin", kind: "plugin", payload: .json(spin)))
            var worker: WorkerID?
            for await case .jobStarted(let event) in events where event.job == "spin" {
                worker = event.worker
                break
            }
            #expect(handle.cancel())
            let outcome = await handle.outcome
            #expect(outcome.status == .cancelled)
            // Had the plugin not stopped, its worker would have been abandoned after the grace
            // period and replaced: the next job on the same worker shows it stopped when asked.
            let next = try await pool.process(
                Job(kind: "plugin", payload: .json(try JSONParser.parse(#"{"pluginId":"echo","operation":"transform","input":[1]}"#))))
            #expect(next.status == .completed)
            #expect(next.worker == worker)
        }
    }

    @Test func aPreemptedPluginGoesBackToTheQueue() async throws {
        var registry = HandlerRegistry.diagnostics
        try registry.registerPlugins(directory: Self.directory)
        // A grace period and a deadline long enough that the spinning plugin stops when asked
        // even on a loaded machine (its first call also translates its module): the test is of
        // the preemption, not of the machine's speed.
        let configuration = PoolConfiguration(scaling: .fixed(1), cancellationGracePeriod: .seconds(20))
        try await WorkerPool.withPool(configuration: configuration, registry: registry) { pool in
            let events = pool.events()
            let spin = try JSONParser.parse(
                #"{"pluginId":"hostile-spin","operation":"transform","input":{},"context":{"fuel":1000000000000,"timeoutMs":60000}}"#)
            let low = try await pool.submit(Job(id: "low", kind: "plugin", payload: .json(spin), priority: .low))
            var starts = events.compactMap { event -> WorkerID? in
                guard case .jobStarted(let started) = event, started.job == "low" else { return nil }
                return started.worker
            }.makeAsyncIterator()
            let worker = await starts.next()
            let urgent = try await pool.process(Job(id: "urgent", kind: "debug.echo", priority: .critical))
            #expect(urgent.status == .completed)
            #expect(urgent.worker == worker)
            #expect(pool.metrics.preempted == 1)
            // Back in the queue with its attempt given back, it starts again on the same worker.
            #expect(await starts.next() == worker)
            #expect(low.cancel())
            let outcome = await low.outcome
            #expect(outcome.status == .cancelled)
            #expect(outcome.attempts == 1)
        }
    }

    @Test func aWarmInstanceKeepsItsStateAFreshOneDoesNot() async throws {
        let payload = #"{"pluginId":"echo","operation":"transform","input":{"n":1},"context":{"warm":WARM}}"#
        let outcomes = try await run([payload.replacing("WARM", with: "true"), payload.replacing("WARM", with: "false")])
        for outcome in outcomes { #expect(try outcome.value(as: JSONValue.self)["output"] == (try JSONParser.parse(#"{"n":1}"#))) }
        // echo's bump allocator never frees: after two warm calls with 3-byte inputs from 1024, the
        // kept instance allocates next at 1030; a fresh instance would at 1024.
        let plugin = try PluginCatalog(directory: Self.directory).plugin(id: "echo", requirement: VersionRequirement("^1.2")!)
        let call = SandboxCall(plugin: plugin, limits: SandboxLimits(fuel: 100_000, memoryBytes: 4 << 20, timeout: .seconds(1)))
        #expect(try call.run(operation: .transform, input: Array("[1]".utf8), warm: true).output == Array("[1]".utf8))
        #expect(try call.run(operation: .transform, input: Array("[2]".utf8), warm: true).output == Array("[2]".utf8))
        let live = try #require(plugin.takeWarmInstance(memoryBytes: 4 << 20))
        #expect(try live.allocate(0) == 1030)
        #expect(plugin.takeWarmInstance(memoryBytes: 4 << 20) == nil)
    }

    /// The deadline reaches a spinning plugin through a signal whose handler zeroes the store's
    /// fuel counter; this holds only while the counter's place in WasmKit's `Store` is found.
    @Test func theWatchdogFindsTheFuelCounterOfAStore() throws {
        let offset = try #require(FuelCounter.offset)
        let store = Store(engine: SandboxCall.engine)
        store.fuel = Fuel(remaining: 1_234)
        #expect(FuelCounter.address(in: store)?.pointee == 1_234)
        #expect(offset > 0)
    }

    @Test func versionRequirements() {
        let versions = ["0.3.1", "1.2.0", "1.2.5", "1.9.0", "2.0.0", "2.0.0-beta.1"].compactMap(SemanticVersion.init)
        func matching(_ requirement: String) -> [String] { versions.filter { VersionRequirement(requirement)!.matches($0) }.map(\.description) }
        #expect(matching("^1.2") == ["1.2.0", "1.2.5", "1.9.0"])
        #expect(matching("~1.2") == ["1.2.0", "1.2.5"])
        #expect(matching("1.2.5") == ["1.2.5"])
        #expect(matching(">=1.9.0") == ["1.9.0", "2.0.0"])
        #expect(matching("^0.3") == ["0.3.1"])
        #expect(matching("*").count == 5)
        #expect(VersionRequirement("^x") == nil && SemanticVersion("1.02.0") == nil)
        #expect(SemanticVersion("2.0.0-beta.1")! < SemanticVersion("2.0.0")!)
    }
}
