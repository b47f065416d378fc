#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// Runs `body` with a pool of `workers` worker processes running `offload-worker`.
func withProcessPool<T>(
    workers: Int = 1, configure: (inout PoolConfiguration) -> Void = { _ in },
    _ body: (WorkerPool) async throws -> T
) async throws -> T {
    var configuration = PoolConfiguration(
        isolation: .process, scaling: .fixed(workers), cancellationGracePeriod: .milliseconds(300), shutdownTimeout: .seconds(5))
    configuration.workerProcess.executable = builtExecutable("offload-worker")
    configuration.workerProcess.forwardsOutput = false
    configure(&configuration)
    return try await WorkerPool.withPool(configuration: configuration, registry: .diagnostics, body)
}

/// A shell script made executable, for workers that misbehave on purpose.
func temporaryScript(_ name: String, _ body: String) throws -> String {
    let path = "/tmp/offload-test-\(getpid())-\(name).sh"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
    #expect(fd >= 0)
    let text = "#!/bin/sh\n" + body + "\n"
    _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
    return path
}

func echoJob(_ id: String, _ value: Int = 0) -> Job {
    Job(id: JobID(id), kind: "debug.echo", payload: .json(.object([("n", .int(Int64(value)))])))
}
