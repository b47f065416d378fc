#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging

/// The worker side of process isolation: the entry point a worker process calls.
///
/// A pool in process isolation starts its workers by running an executable (by default the
/// host's own) with `OFFLOAD_WORKER_FDS` in its environment, like a Web Worker's script URL.
/// Call ``runIfWorker(registry:logger:)`` first thing in `main`, with the handlers the host
/// uses; in a worker it never returns, anywhere else it returns at once:
///
/// ```swift
/// static func main() async throws {
///     let registry = try makeRegistry()
///     WorkerProcess.runIfWorker(registry: registry)   // in a worker: runs jobs, never returns
///     // … the host: a pool with `PoolConfiguration(isolation: .process)` and the same registry …
/// }
/// ```
public enum WorkerProcess {
    /// The environment variable that marks a worker process (its value names the descriptors
    /// the worker reads jobs from and writes results to).
    public static let environmentKey = "OFFLOAD_WORKER_FDS"

    /// Whether this process was started as a worker.
    public static var isWorker: Bool { getenv(environmentKey) != nil }

    /// In a worker process: runs jobs with `registry` until the host says to end, or goes
    /// away, then exits the process. Anywhere else: returns at once.
    public static func runIfWorker(registry: HandlerRegistry, logger: Logger = Logger(label: "offload.worker")) {
        guard let value = getenv(environmentKey) else { return }
        let fds = String(cString: value).split(separator: ",").compactMap { Int32($0) }
        guard fds.count == 2 else {
            writeToStandardError("offload worker: \(environmentKey) must be two descriptors, as 3,4\n")
            exit(64)
        }
        let runtime = WorkerProcessRuntime(input: fds[0], output: fds[1], registry: registry, logger: logger)
        exit(runtime.run())
    }
}
