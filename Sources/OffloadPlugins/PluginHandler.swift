public import Offload

/// The `plugin` job kind: the seed's `PluginTask`, run as a sandboxed WebAssembly plugin from the
/// catalog (the default), a trusted Swift plugin the host registered, or a system plugin.
///
/// ```json
/// {"pluginId":"json-upper","pluginVersion":"^1.0","operation":"transform","input":{"name":"ada"},
///  "context":{"executionMode":"sandboxed","timeoutMs":500,"memoryLimitMb":16,"fuel":1000000}}
/// ```
public struct PluginHandler: JobHandler {
    public struct Payload: Codable, Sendable {
        public struct Context: Codable, Sendable {
            /// `sandboxed` (default), `trusted` or `system`.
            public var executionMode: String?
            public var timeoutMs: Int?
            public var memoryLimitMb: Int?
            public var fuel: UInt64?
            /// Reuse an instance kept from an earlier call of the plugin in this worker (faster;
            /// the plugin's state carries over). Default: a fresh instance per job.
            public var warm: Bool?

            public init(executionMode: String? = nil, timeoutMs: Int? = nil, memoryLimitMb: Int? = nil, fuel: UInt64? = nil, warm: Bool? = nil) {
                self.executionMode = executionMode
                self.timeoutMs = timeoutMs
                self.memoryLimitMb = memoryLimitMb
                self.fuel = fuel
                self.warm = warm
            }
        }

        public var pluginId: String
        /// A version or a range (`1.2.0`, `^1.2`, `~1.2`, `>=1.0.0`, `*`); any when absent.
        public var pluginVersion: String?
        /// `transform`, `validate`, `analyze` or `generate`.
        public var operation: String
        public var input: JSONValue?
        public var context: Context?

        public init(pluginId: String, pluginVersion: String? = nil, operation: String, input: JSONValue? = nil, context: Context? = nil) {
            self.pluginId = pluginId
            self.pluginVersion = pluginVersion
            self.operation = operation
            self.input = input
            self.context = context
        }
    }

    public struct Output: Codable, Sendable {
        public var output: JSONValue
        public var pluginId: String
        public var pluginVersion: String
        /// WebAssembly operators executed (sandboxed plugins).
        public var fuelUsed: UInt64?
        public var durationMs: Double
        /// What the plugin logged (at most 100 lines).
        public var logs: [String]
    }

    public static let kind = "plugin"
    public let catalog: PluginCatalog
    public let limits: HostPluginLimits
    private let trusted: [String: any TrustedPlugin]
    private let system: [String: any TrustedPlugin]

    public init(catalog: PluginCatalog, limits: HostPluginLimits = HostPluginLimits(), trusted: [any TrustedPlugin] = []) {
        self.catalog = catalog
        self.limits = limits
        self.trusted = Dictionary(trusted.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        system = ["metadata": MetadataPlugin()]
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let operation = PluginManifest.Operation(rawValue: payload.operation) else {
            throw OffloadError.plugin(
                .invalidPayload,
                "payload.operation '\(payload.operation)' is not one of \(PluginManifest.Operation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let requirement = VersionRequirement(payload.pluginVersion ?? "*") else {
            throw OffloadError.plugin(.invalidPayload, "payload.pluginVersion '\(payload.pluginVersion ?? "")' is not a version or a range like ^1.2")
        }
        let job = payload.context
        if let fuel = job?.fuel, fuel == 0 { throw OffloadError.plugin(.invalidPayload, "payload.context.fuel must be positive") }
        if let memory = job?.memoryLimitMb, memory < 1 {
            throw OffloadError.plugin(.invalidPayload, "payload.context.memoryLimitMb must be at least 1")
        }
        if let timeout = job?.timeoutMs, timeout < 1 { throw OffloadError.plugin(.invalidPayload, "payload.context.timeoutMs must be at least 1") }
        let input = payload.input ?? .null
        let start = ContinuousClock.now
        switch job?.executionMode ?? "sandboxed" {
        case "sandboxed":
            let plugin = try catalog.plugin(id: payload.pluginId, requirement: requirement)
            guard plugin.manifest.operations.contains(operation) else {
                throw OffloadError.plugin(
                    .invalidPayload,
                    "plugin \(plugin.manifest.id) \(plugin.manifest.version) has no operation \(operation.rawValue) (it has \(plugin.manifest.operations.map(\.rawValue).sorted().joined(separator: ", ")))"
                )
            }
            let logs = LogLines()
            var call = SandboxCall(
                plugin: plugin,
                limits: limits.limits(
                    manifest: plugin.manifest.limits, fuel: job?.fuel,
                    memoryMb: job?.memoryLimitMb, timeoutMs: job?.timeoutMs))
            call.log = { line in logs.append(line) }
            call.progress = { fraction in context.reportProgress(fraction) }
            let cancellation = CallCancellation()
            let bytes = Array(JSONWriter.string(input).utf8)
            let result: SandboxCall.Result
            do {
                result = try await withTaskCancellationHandler {
                    try call.run(operation: operation, input: bytes, warm: job?.warm ?? false, cancellation: cancellation)
                } onCancel: {
                    cancellation.cancel()
                }
            } catch let error as OffloadError where error.code == .cancelled {
                // Stopped because the pool asked: said the way the pool understands (a preempted
                // job then goes back to the queue, a cancelled one ends cancelled).
                throw CancellationError()
            }
            let output: JSONValue
            do { output = try JSONParser.parse(result.output) } catch {
                throw OffloadError.plugin(
                    .invalidPluginOutput, "plugin \(plugin.manifest.id) \(plugin.manifest.version) returned output that is not JSON: \(error)")
            }
            return Output(
                output: output, pluginId: plugin.manifest.id, pluginVersion: "\(plugin.manifest.version)", fuelUsed: result.fuelUsed,
                durationMs: (ContinuousClock.now - start).reportedMilliseconds, logs: logs.lines)
        case "trusted", "system":
            let table = job?.executionMode == "system" ? system : trusted
            guard let plugin = table[payload.pluginId], requirement.matches(plugin.version) else {
                throw OffloadError.plugin(
                    .pluginNotFound,
                    "no \(job?.executionMode ?? "") plugin '\(payload.pluginId)' matching \(requirement) (there are: \(table.keys.sorted().joined(separator: ", ")))"
                )
            }
            guard plugin.operations.contains(operation) else {
                throw OffloadError.plugin(.invalidPayload, "plugin \(plugin.id) has no operation \(operation.rawValue)")
            }
            let timeout = limits.limits(manifest: .init(), fuel: nil, memoryMb: nil, timeoutMs: job?.timeoutMs).timeout
            let output = try await Self.within(timeout, name: "plugin \(plugin.id) \(plugin.version)") {
                try await plugin.run(operation, input: input)
            }
            return Output(
                output: output, pluginId: plugin.id, pluginVersion: "\(plugin.version)", fuelUsed: nil,
                durationMs: (ContinuousClock.now - start).reportedMilliseconds, logs: [])
        case let mode:
            throw OffloadError.plugin(.invalidPayload, "payload.context.executionMode '\(mode)' is not one of sandboxed, trusted, system")
        }
    }

    /// Runs `body`, failing `timedOut` when it is not done within `timeout` (it is cancelled).
    private static func within(_ timeout: Duration, name: String, _ body: @escaping @Sendable () async throws -> JSONValue) async throws -> JSONValue
    {
        try await withThrowingTaskGroup(of: JSONValue?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw OffloadError(.timedOut, "\(name) ran past its \(Int(timeout.milliseconds)) ms deadline")
            }
            return value
        }
    }
}

/// Lines a plugin logs during one call (at most 100 kept).
final class LogLines: @unchecked Sendable {
    // `@unchecked Sendable`: appended to by the thread running the call, read after it.
    private(set) var lines: [String] = []

    func append(_ line: String) {
        if lines.count < 100 { lines.append(line) }
    }
}

extension HandlerRegistry {
    /// Adds the `plugin` kind over the plugins under `directory`, granting `grants` to those
    /// whose manifest asks for them. (In process isolation, the worker's registry must grant
    /// the same.)
    public mutating func registerPlugins(
        directory: String, limits: HostPluginLimits = HostPluginLimits(), trusted: [any TrustedPlugin] = [],
        grants: [HostImport] = []
    ) throws(OffloadError) {
        try register(PluginHandler(catalog: PluginCatalog(directory: directory, grants: grants), limits: limits, trusted: trusted))
    }
}
