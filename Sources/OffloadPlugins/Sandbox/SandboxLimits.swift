/// The limits one plugin call runs under: the manifest's, the job's and the host's, the
/// smallest of each.
public struct SandboxLimits: Sendable, Equatable {
    /// WebAssembly operators the call may execute (about one unit each).
    public var fuel: UInt64
    /// The most linear memory the plugin may have, in bytes.
    public var memoryBytes: Int
    /// Wall-clock time for the call, instantiation included.
    public var timeout: Duration

    public init(fuel: UInt64, memoryBytes: Int, timeout: Duration) {
        self.fuel = fuel
        self.memoryBytes = memoryBytes
        self.timeout = timeout
    }
}

/// What the host allows any plugin at most, and what it gives one that names no limit.
public struct HostPluginLimits: Sendable {
    public var maxFuel: UInt64 = 5_000_000_000
    public var maxMemoryMb = 256
    public var maxTimeout: Duration = .seconds(60)
    public var defaultFuel: UInt64 = 100_000_000
    public var defaultMemoryMb = 64
    public var defaultTimeout: Duration = .seconds(5)

    public init() {}

    /// The smallest of the manifest's, the job's and the host's limits.
    func limits(manifest: PluginManifest.Limits, fuel: UInt64?, memoryMb: Int?, timeoutMs: Int?) -> SandboxLimits {
        let fuel = [fuel, manifest.fuel].compactMap { $0 }.min() ?? defaultFuel
        let memory = [memoryMb, manifest.memoryMb].compactMap { $0 }.min() ?? defaultMemoryMb
        let timeout = [timeoutMs, manifest.timeoutMs].compactMap { $0 }.min().map { Duration.milliseconds($0) } ?? defaultTimeout
        return SandboxLimits(fuel: min(fuel, maxFuel), memoryBytes: min(memory, maxMemoryMb) << 20, timeout: min(timeout, maxTimeout))
    }
}
