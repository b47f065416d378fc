#if canImport(Glibc)
import Glibc
#endif

/// A child process for a benchmark: its fd 3 reads `toChild`, its fd 4 writes `fromChild`, and
/// its stdout and stderr go to /dev/null.
struct Spawned {
    let pid: Int32
    let toChild: Int32
    let fromChild: Int32

    init(_ path: String, _ arguments: [String], environment: [String] = ["PATH=/usr/bin:/bin"]) throws {
        var jobs: [Int32] = [-1, -1], results: [Int32] = [-1, -1]
        guard pipe(&jobs) == 0, pipe(&results) == 0 else { throw BenchmarkError("pipe failed") }
        for fd in jobs + results { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // F_SETPIPE_SZ (1031), which Glibc's module does not export.
        _ = fcntl(jobs[1], 1031, Int32(512 << 10))
        _ = fcntl(results[1], 1031, Int32(512 << 10))
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, null, 1)
        posix_spawn_file_actions_adddup2(&actions, null, 2)
        posix_spawn_file_actions_adddup2(&actions, jobs[0], 3)
        posix_spawn_file_actions_adddup2(&actions, results[1], 4)
        // Signals as a fresh process has them: threads of Swift's pool block them, and a child inherits its mask.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        var all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        let error = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
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
        // WIFEXITED and WEXITSTATUS, which Swift does not import.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
    }
}
