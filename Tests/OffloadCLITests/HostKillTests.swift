#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// `offload run` killed with SIGKILL while its worker processes run jobs: none outlives it.
@Suite struct HostKillTests {
    @Test func killingTheHostLeavesNoWorkerRunning() async throws {
        let folder = "/tmp/offload-orphans-\(getpid())"
        mkdir(folder, 0o755)
        let jobFile = "\(folder)/hangs.jsonl"
        let fd = open(jobFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let lines = #"{"kind":"debug.hang"}"# + "\n" + #"{"kind":"debug.spin","payload":{"ms":60000}}"# + "\n"
        _ = lines.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        let host = try ChildProcess.spawn(
            executable: builtExecutable("offload"),
            arguments: [
                "run", jobFile, "--isolation", "process", "--workers", "2", "--events", "\(folder)/events.jsonl",
                "--out", "\(folder)/out", "--quiet"
            ],
            environment: ["PATH=/usr/bin:/bin"], directory: nil)
        // Wait until both workers run a job.
        var workers: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while workers.count < 2 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            workers = startedWorkerPIDs(in: "\(folder)/events.jsonl")
        }
        #expect(workers.count == 2)
        kill(host.pid, SIGKILL)
        _ = host.waitForExit()
        try await Task.sleep(for: .seconds(1))
        for pid in workers { #expect(!isRunning(pid), "worker \(pid) outlived its host by a second") }
        for fd in [host.toChild, host.fromChild, host.output] { close(fd) }
    }

    private func startedWorkerPIDs(in path: String) -> [Int32] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        var pids: [Int32] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.contains(#""event":"started""#) {
            guard let json = try? JSONParser.parse(String(line)), case .int(let pid)? = json["workerPid"] ?? json["pid"] else { continue }
            pids.append(Int32(pid))
        }
        return pids
    }
}
