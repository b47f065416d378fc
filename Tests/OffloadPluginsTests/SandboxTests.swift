import Offload
import Testing
@testable import OffloadPlugins

/// Plugin jobs through a pool of thread workers: the well-behaved plugin's results, and each
/// hostile plugin failing under its own code with the worker still serving.
@Suite(.serialized) struct SandboxTests {
    static let fixtures: PluginFixtures = {
        let fixtures = PluginFixtures("sandbox")
        fixtures.addAll()
        return fixtures
    }()

    private func run(_ payloads: [String]) async throws -> [JobOutcome] {
        var registry = HandlerRegistry()
        try registry.registerPlugins(directory: Self.fixtures.directory)
        return try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            var outcomes: [JobOutcome] = []
            for payload in payloads {
                outcomes.append(try await pool.process(Job(kind: "plugin", payload: .json(try JSONParser.parse(payload)))))
            }
            return outcomes
        }
    }

    @Test func aPluginTransformsItsInputAndReportsFuelLogsAndProgress() async throws {
        let outcomes = try await run([
            #"{"pluginId":"upper","pluginVersion":"^1.0","operation":"transform","input":{"name":"ada","tags":["x","y"]}}"#,
            #"{"pluginId":"upper","operation":"transform","input":{"name":"ada"}}"#,
            #"{"pluginId":"metadata","operation":"validate","input":{"title":""},"context":{"executionMode":"system"}}"#,
        ])
        let first = try outcomes[0].value(as: JSONValue.self)
        #expect(first["output"] == (try JSONParser.parse(#"{"NAME":"ADA","TAGS":["X","Y"]}"#)))
        #expect(first["pluginVersion"] == .string("1.2.0"))
        #expect((first["fuelUsed"]?.doubleValue ?? 0) > 0)
        #expect(first["logs"] == .array([.string("upper-casing")]))
        // Without a version the highest one runs.
        #expect(try outcomes[1].value(as: JSONValue.self)["pluginVersion"] == .string("2.0.0"))
        let system = try outcomes[2].value(as: JSONValue.self)
        #expect(system["output"]?["valid"] == .bool(false))
        #expect(system["output"]?["errors"] == .array([.string("title is required")]))
    }

    @Test(arguments: [
        ("spin", #""context":{"fuel":100000}"#, OffloadError.Code.cpuLimitExceeded, "used up its fuel"),
        ("spin", #""context":{"fuel":1000000000000,"timeoutMs":150}"#, .timedOut, "deadline"),
        ("grow", "", .memoryLimitExceeded, "more than its 2 MiB"),
        ("bigstart", "", .memoryLimitExceeded, "starts with 2000 pages"),
        ("trap", "", .pluginTrapped, "unreachable"),
        ("recurse", "", .pluginTrapped, "trapped"),
        ("pointer", "", .invalidPluginOutput, "outside its"),
        ("notjson", "", .invalidPluginOutput, "not JSON"),
        ("badlog", "", .invalidPluginOutput, "offload.log(70000, 10) points outside"),
        ("noexport", "", .invalidPlugin, "does not export the function \"transform\""),
        ("checksum", "", .invalidPlugin, "SHA-256"),
        ("badmanifest", "", .invalidPlugin, "not a semantic version"),
        ("wasi", "", .permissionDenied, "wasi_snapshot_preview1.fd_write"),
        ("nothere", "", .pluginNotFound, "no plugin 'nothere'"),
    ])
    func aHostilePluginFailsUnderItsCodeAndTheWorkerServesOn(id: String, context: String, code: OffloadError.Code, message: String) async throws {
        let extra = context.isEmpty ? "" : "," + context
        let outcomes = try await run([
            #"{"pluginId":"\#(id)","operation":"transform","input":{"a":1}\#(extra)}"#,
            #"{"pluginId":"upper","pluginVersion":"1.2.0","operation":"transform","input":{"after":"it"}}"#,
        ])
        #expect(outcomes[0].error?.code == code, "\(outcomes[0].error?.description ?? "completed")")
        #expect(outcomes[0].error?.message.contains(message) == true, "\(outcomes[0].error?.message ?? "")")
        #expect(try outcomes[1].value(as: JSONValue.self)["output"] == (try JSONParser.parse(#"{"AFTER":"IT"}"#)))
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
