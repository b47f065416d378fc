#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Offload

/// An executable built beside the test bundle (`offload-worker`, `offload`).
func builtExecutable(_ name: String) -> String {
    let bundle = SystemInfo.executablePath ?? CommandLine.arguments[0]
    let folder = bundle[..<(bundle.lastIndex(of: "/") ?? bundle.startIndex)]
    return "\(folder)/\(name)"
}

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

/// Whether a process runs (a zombie or a missing pid does not).
func isRunning(_ pid: Int32) -> Bool {
    let fd = open("/proc/\(pid)/stat", O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return false }
    let text = String(decoding: buffer[0..<count], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return false }
    let state = text[text.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

func echoJob(_ id: String, _ value: Int = 0) -> Job {
    Job(id: JobID(id), kind: "debug.echo", payload: .json(.object([("n", .int(Int64(value)))])))
}
