#if canImport(Glibc)
import Glibc
#endif
import COffloadSystem

/// A child process for a benchmark: its fd 3 reads `toChild`, its fd 4 writes `fromChild`, and
/// its stdout and stderr go to /dev/null.
struct Spawned {
    let pid: Int32
    let toChild: Int32
    let fromChild: Int32

    init(_ path: String, _ arguments: [String], environment: [String] = ["PATH=/usr/bin:/bin"]) throws {
        var jobs: [Int32] = [-1, -1], results: [Int32] = [-1, -1]
        guard offload_pipe_cloexec(&jobs) == 0, offload_pipe_cloexec(&results) == 0 else { throw BenchmarkError("pipe failed") }
        _ = offload_set_pipe_size(jobs[1], 512 << 10)
        _ = offload_set_pipe_size(results[1], 512 << 10)
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        let error = offload_spawn(path, argv, envp, nil, jobs[0], results[1], null, null, &pid)
        close(null)
        close(jobs[0])
        close(results[1])
        guard error == 0 else { throw BenchmarkError("spawning \(path) failed: \(String(cString: strerror(error)))") }
        self.pid = pid
        self.toChild = jobs[1]
        self.fromChild = results[0]
    }

    /// Closes the pipes and waits for the child to end; its exit status (-1 when a signal ended it).
    @discardableResult
    func reap() -> Int32 {
        close(toChild)
        close(fromChild)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        var code: Int32 = 0
        return offload_decode_wait_status(status, &code) == 1 ? code : -1
    }
}
