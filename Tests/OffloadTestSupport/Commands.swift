#if canImport(Glibc)
import Glibc
#endif
@testable import Offload

/// How a command run by ``runCommand(_:_:directory:timeout:)`` ended.
public struct CommandRun: Sendable {
    /// The exit status; a negative number is the signal that ended it.
    public var status: Int32
    /// Standard output and standard error, together.
    public var output: String
    public var elapsed: Duration
}

/// Runs `executable` with `arguments` in `directory`, reading what it prints as it goes, and
/// kills it when it runs past `timeout` (the result then says so with status -9). It waits by
/// sleeping, never blocking a thread of the cooperative pool that other tests run on.
public func runCommand(
    _ executable: String, _ arguments: [String], directory: String? = nil,
    timeout: Duration = .seconds(120)
) async throws -> CommandRun {
    let start = ContinuousClock.now
    let child = try ChildProcess.spawn(
        executable: executable, arguments: arguments,
        environment: ["PATH=/usr/bin:/bin", "HOME=/tmp"], directory: directory)
    close(child.toChild)
    close(child.fromChild)
    // Enough to read what went wrong; a flood is not kept.
    let output = try await readOutput(of: child, killAfter: timeout)
    close(child.output)
    // Its output ended: it has exited or is about to.
    let exit = WorkerExit.Status(waitStatus: child.waitForExit())
    let status: Int32 =
        switch exit {
        case .exited(let code): code
        case .signalled(let signal): -signal
        case .unknown: -1000
        }
    return CommandRun(status: status, output: String(decoding: output, as: UTF8.self), elapsed: .now - start)
}
