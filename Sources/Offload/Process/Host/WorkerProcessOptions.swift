#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a pool in process isolation starts and watches its worker processes.
///
/// ```swift
/// var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(4))
/// configuration.workerProcess.memoryLimit = 256 << 20
/// configuration.workerProcess.heartbeatTimeout = .seconds(2)
/// ```
public struct WorkerProcessOptions: Sendable {
    /// The worker executable; `nil` runs this process's own executable again, which must call
    /// ``WorkerProcess/runIfWorker(registry:logger:)`` at the top of its `main`.
    public var executable: String?
    /// Arguments after the executable's name.
    public var arguments: [String]
    /// The worker's working directory; `nil` keeps the host's.
    public var workingDirectory: String?
    /// Variables added to (or replacing those of) the environment workers get.
    public var environment: [String: String]
    /// Whether workers start with the host's environment (plus ``environment``) or only ``environment``.
    public var inheritsEnvironment: Bool
    /// The most memory one worker may use, in bytes: its data segment is capped at this size
    /// (`RLIMIT_DATA`) and the host kills a worker whose resident memory passes it. A job whose
    /// worker dies of it fails ``OffloadError/Code/memoryLimitExceeded``. `nil`: no limit.
    public var memoryLimit: Int?
    /// The CPU time one worker process may use over its life (`RLIMIT_CPU`); a job whose worker
    /// runs out fails ``OffloadError/Code/cpuLimitExceeded``. Pair it with recycling. `nil`: no limit.
    public var cpuTimeLimit: Duration?
    /// How often a worker sends a heartbeat (from a thread of its own; also the memory-watch period).
    public var heartbeatInterval: Duration
    /// A worker silent for this long (stopped, wedged, deadlocked) is killed and replaced, and its job retried.
    public var heartbeatTimeout: Duration
    /// How long a new worker may take to say it is ready before it is killed.
    public var startTimeout: Duration
    /// Jobs one worker holds at once, the running one included. `1` (the default) hands a worker
    /// its next job only when it finishes one; more keeps jobs queued in the worker for throughput
    /// of small jobs, at the price of committing them to that worker early.
    public var prefetch: Int
    /// Whether crashing workers print Swift's backtrace (slow: 30–160 ms before the host sees the
    /// crash, against under 1.5 ms without).
    public var backtraces: Bool
    /// Whether what workers print (stdout and stderr) is copied to the host's stderr, each line
    /// prefixed with the worker's name. The last lines are kept either way for crash messages.
    public var forwardsOutput: Bool

    public init(
        executable: String? = nil,
        arguments: [String] = [],
        workingDirectory: String? = nil,
        environment: [String: String] = [:],
        inheritsEnvironment: Bool = true,
        memoryLimit: Int? = nil,
        cpuTimeLimit: Duration? = nil,
        heartbeatInterval: Duration = .milliseconds(100),
        heartbeatTimeout: Duration = .seconds(5),
        startTimeout: Duration = .seconds(10),
        prefetch: Int = 1,
        backtraces: Bool = false,
        forwardsOutput: Bool = true
    ) {
        self.executable = executable
        self.arguments = arguments
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.inheritsEnvironment = inheritsEnvironment
        self.memoryLimit = memoryLimit
        self.cpuTimeLimit = cpuTimeLimit
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.startTimeout = startTimeout
        self.prefetch = prefetch
        self.backtraces = backtraces
        self.forwardsOutput = forwardsOutput
    }

    func validate() throws(OffloadError) {
        if let memoryLimit, memoryLimit < 16 << 20 {
            throw OffloadError(.invalidConfiguration, "workerProcess.memoryLimit must be at least 16 MiB (a Swift worker needs about 8 MiB to start)")
        }
        if let cpuTimeLimit, cpuTimeLimit < .seconds(1) {
            throw OffloadError(.invalidConfiguration, "workerProcess.cpuTimeLimit must be at least one second")
        }
        if heartbeatInterval < .milliseconds(1) { throw OffloadError(.invalidConfiguration, "workerProcess.heartbeatInterval must be at least 1 ms") }
        if heartbeatTimeout <= heartbeatInterval {
            throw OffloadError(.invalidConfiguration, "workerProcess.heartbeatTimeout must be longer than heartbeatInterval")
        }
        if startTimeout <= .zero { throw OffloadError(.invalidConfiguration, "workerProcess.startTimeout must be positive") }
        if prefetch < 1 || prefetch > 1024 { throw OffloadError(.invalidConfiguration, "workerProcess.prefetch must be between 1 and 1024") }
        if let executable = try resolvedExecutable(), access(executable, X_OK) != 0 {
            throw OffloadError(.invalidConfiguration, "workerProcess.executable '\(executable)' is not an executable file")
        }
    }

    /// The executable to start: the configured one, or this process's own.
    func resolvedExecutable() throws(OffloadError) -> String? {
        if let executable { return executable }
        return SystemInfo.executablePath
    }
}
