#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Offload

/// The suites that run the `offload` executable on heavy inputs, one test at a time: each
/// keeps a core or two busy, and the pool tests beside them measure time.
@Suite(.serialized) enum CommandLineTests {}

/// How a command run by ``runCommand(_:_:directory:timeout:)`` ended.
struct CommandRun {
    /// The exit status; a negative number is the signal that ended it.
    var status: Int32
    /// Standard output and standard error, together.
    var output: String
    var elapsed: Duration
}

/// Runs `executable` with `arguments` in `directory`, reading what it prints as it goes, and
/// kills it when it runs past `timeout` (the result then says so with status -9). It waits by
/// sleeping, never blocking a thread of the cooperative pool that other tests run on.
func runCommand(_ executable: String, _ arguments: [String], directory: String? = nil,
                timeout: Duration = .seconds(120)) async throws -> CommandRun {
    let start = ContinuousClock.now
    let child = try ChildProcess.spawn(executable: executable, arguments: arguments,
                                       environment: ["PATH=/usr/bin:/bin", "HOME=/tmp"], directory: directory)
    close(child.toChild)
    close(child.fromChild)
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    var killed = false
    while true {
        var poller = pollfd(fd: child.output, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, 0)
        if ready > 0 {
            let count = read(child.output, &chunk, chunk.count)
            if count <= 0 { break }
            // Enough to read what went wrong; a flood is not kept.
            if output.count < 1 << 20 { output += chunk[0..<count] }
        } else if !killed && ContinuousClock.now - start > timeout {
            kill(child.pid, SIGKILL)
            killed = true
        } else {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
    close(child.output)
    // Its output ended: it has exited or is about to.
    let exit = WorkerExit.Status(waitStatus: child.waitForExit())
    let status: Int32 = switch exit {
    case .exited(let code): code
    case .signalled(let signal): -signal
    case .unknown: -1000
    }
    return CommandRun(status: status, output: String(decoding: output, as: UTF8.self), elapsed: .now - start)
}

/// A fresh folder under /tmp for one test.
func temporaryFolder(_ name: String) -> String {
    let path = "/tmp/offload-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(path, 0o755)
    return path
}

/// Writes `bytes` to `path`.
func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        guard count > 0 else { break }
        offset += count
    }
    close(fd)
}

func writeFile(_ path: String, _ text: String) { writeFile(path, Array(text.utf8)) }

/// The whole file at `path` (empty when it cannot be read).
func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = read(fd, &chunk, chunk.count)
        if count <= 0 { return bytes }
        bytes += chunk[0..<count]
    }
}

/// The lines of `OUT/results.jsonl`, by job id.
func resultLines(in out: String) throws -> [String: JSONValue] {
    var results: [String: JSONValue] = [:]
    for line in readFile(out + "/results.jsonl").split(separator: 0x0A) {
        let result = try JSONParser.parse(line)
        results[result["id"]?.stringValue ?? ""] = result
    }
    return results
}

/// Removes `path` and all it holds.
func removeTree(_ path: String) {
    let child = try? ChildProcess.spawn(executable: "/bin/rm", arguments: ["-rf", path], environment: [], directory: nil)
    guard let child else { return }
    for fd in [child.toChild, child.fromChild, child.output] { close(fd) }
    _ = child.waitForExit()
}
