#if canImport(Glibc)
import Glibc
#endif
import Offload
@_spi(Benchmarks) import OffloadPlugins

/// `plugin` (Offload's side): a warm and a fresh-instance call of the `title-case` example plugin
/// (C, a small JSON transform) beside the same transform in native Swift, and its instantiation
/// alone; fib(25) as a plugin; a runaway plugin stopped at its deadline, in a thread and in a
/// worker process, with the next job served. `benchmarks/plugin/run` runs wasmtime on the same
/// fib and prints the ratio.
struct PluginSuite {
    let directory: String
    /// The suite's own plugins (`fib`).
    let benchmarkPlugins: String
    let calls: Int

    static let input = Array(#"{"title":"web workers for swift servers","description":"move heavy work off the main path","n":3}"#.utf8)

    func run() async throws {
        let catalog = PluginCatalog(directory: directory)
        let titleCase = try catalog.plugin(id: "title-case", requirement: VersionRequirement("*")!)
        let limits = SandboxLimits(fuel: 50_000_000, memoryBytes: 16 << 20, timeout: .seconds(2))
        let call = SandboxCall(plugin: titleCase, limits: limits)
        let expected = try call.run(operation: .transform, input: Self.input).output
        precondition(String(decoding: expected, as: UTF8.self).contains("Web Workers For Swift Servers"), "title-case is wrong")

        let warm = try timings(calls) {
            let output = try call.run(operation: .transform, input: Self.input, warm: true).output
            precondition(output == expected)
        }
        let fresh = try timings(calls / 4) {
            let output = try call.run(operation: .transform, input: Self.input).output
            precondition(output == expected)
        }
        // The same with a pause between calls: what a job meets on a worker that was not busy
        // (a spare instance made ahead in the background is ready by then).
        let freshAfterPause = try timings(calls / 20, pause: .milliseconds(2)) {
            let output = try call.run(operation: .transform, input: Self.input).output
            precondition(output == expected)
        }
        let warmAfterPause = try timings(calls / 20, pause: .milliseconds(2)) {
            let output = try call.run(operation: .transform, input: Self.input, warm: true).output
            precondition(output == expected)
        }
        let instantiation = try timings(calls / 4) { try call.instantiate() }
        let native = try timings(calls) {
            let output = try Self.nativeTitleCase(Self.input)
            precondition(output.count == expected.count)
        }
        let fib = try fibonacci()
        let stops = try runawayStops(catalog: catalog, titleCase: call)
        let processStop = try await runawayInAWorkerProcess()

        Report.line([
            ("suite", .string("plugin")), ("side", .string("offload")),
            ("warmCallMicrosP50", .number(warm.p50)), ("warmCallMicrosP99", .number(warm.p99)),
            ("freshCallMicrosP50", .number(fresh.p50)), ("freshCallMicrosP99", .number(fresh.p99)),
            ("freshAfterPauseMicrosP50", .number(freshAfterPause.p50)), ("freshAfterPauseMicrosP99", .number(freshAfterPause.p99)),
            ("warmAfterPauseMicrosP50", .number(warmAfterPause.p50)),
            ("instantiateMicrosP50", .number(instantiation.p50)), ("instantiateMicrosP99", .number(instantiation.p99)),
            ("nativeSwiftMicrosP50", .number(native.p50)),
            ("fib25MsMedian", .number(fib.milliseconds)), ("fib25Value", .int(fib.value)),
            ("runawayOvershootMsMax", .number(stops.max() ?? 0)), ("runawayOvershootMsP50", .number(Report.median(stops))),
            ("processRunawayRunMs", .number(processStop.runMs)), ("processRunawayCode", .string(processStop.code)),
            ("processNextJob", .string(processStop.next))
        ])
    }

    /// Per-call times in microseconds of `body`, after a warm-up.
    private func timings(_ count: Int, pause: Duration? = nil, _ body: () throws -> Void) throws -> (p50: Double, p99: Double) {
        for _ in 0..<max(100, count / 10) { try body() }
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            if let pause { usleep(UInt32(pause.milliseconds * 1_000)) }
            let start = ContinuousClock.now
            try body()
            samples.append((ContinuousClock.now - start).milliseconds * 1_000)
        }
        samples.sort()
        return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 99 / 100)])
    }

    /// The plugin's transform written in Swift: parse, upper-case each word's first letter in
    /// every string value, write.
    static func nativeTitleCase(_ bytes: [UInt8]) throws -> [UInt8] {
        func titled(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let text):
                var previous: Character = " "
                return .string(
                    String(
                        text.map { character in
                            defer { previous = character }
                            return previous == " " ? Character(character.uppercased()) : character
                        }))
            case .array(let items): return .array(items.map(titled))
            case .object(let members): return .object(members.map { ($0.0, titled($0.1)) })
            default: return value
            }
        }
        return Array(JSONWriter.string(titled(try JSONValue(parsing: bytes))).utf8)
    }

    /// fib(25) as a plugin call (WasmKit under fuel, in a warm instance), median of 5 calls.
    private func fibonacci() throws -> (milliseconds: Double, value: Int) {
        let plugin = try PluginCatalog(directory: benchmarkPlugins).plugin(id: "fib", requirement: VersionRequirement("*")!)
        let call = SandboxCall(plugin: plugin, limits: SandboxLimits(fuel: 1_000_000_000, memoryBytes: 1 << 20, timeout: .seconds(10)))
        var times: [Double] = []
        var value = 0
        for _ in 0..<6 {
            let start = ContinuousClock.now
            let output = try call.run(operation: .execute, input: Array("25".utf8), warm: true).output
            times.append((ContinuousClock.now - start).milliseconds)
            value = Int(String(decoding: output, as: UTF8.self)) ?? -1
        }
        precondition(value == 75_025, "fib(25) is wrong: \(value)")
        return (Report.median(Array(times.dropFirst())), value)
    }

    /// How far past a 50 ms deadline `hostile-spin` (an endless loop with fuel to spare) is
    /// stopped in a thread, ten times; after each stop the well-behaved plugin must still run.
    private func runawayStops(catalog: PluginCatalog, titleCase: SandboxCall) throws -> [Double] {
        let spin = SandboxCall(
            plugin: try catalog.plugin(id: "hostile-spin", requirement: VersionRequirement("*")!),
            limits: SandboxLimits(fuel: .max / 2, memoryBytes: 4 << 20, timeout: .milliseconds(50)))
        var overshoots: [Double] = []
        for _ in 0..<10 {
            let start = ContinuousClock.now
            do {
                _ = try spin.run(operation: .transform, input: Array("{}".utf8))
                preconditionFailure("hostile-spin returned")
            } catch {
                precondition(error.code == .timedOut, "hostile-spin failed \(error.code), not timedOut")
            }
            overshoots.append((ContinuousClock.now - start).milliseconds - 50)
            _ = try titleCase.run(operation: .transform, input: Self.input)
        }
        return overshoots
    }

    /// The same runaway as a job in a worker process (timeout 200 ms): its run time and code,
    /// and the status of the next job on the same pool.
    private func runawayInAWorkerProcess() async throws -> (runMs: Double, code: String, next: String) {
        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(1), preemption: false)
        configuration.workerProcess.environment["OFFLOAD_PLUGINS_DIR"] = directory
        var registry = HandlerRegistry.diagnostics
        try registry.registerPlugins(directory: directory)
        return try await WorkerPool.withPool(configuration: configuration, registry: registry) { pool in
            let spin = try JSONValue(parsing: #"{"pluginId":"hostile-spin","operation":"transform","input":{},"context":{"fuel":5000000000}}"#)
            var job = Job(kind: "plugin", payload: .json(spin))
            job.timeout = .milliseconds(200)
            let stopped = try await pool.process(job)
            let next = try await pool.process(
                Job(
                    kind: "plugin",
                    payload: .json(
                        try JSONValue(
                            parsing:
                                #"{"pluginId":"title-case","operation":"transform","input":{"title":"still serving"}}"#))))
            return (stopped.runTime.milliseconds, stopped.error?.code.rawValue ?? "none", next.status.rawValue)
        }
    }
}
