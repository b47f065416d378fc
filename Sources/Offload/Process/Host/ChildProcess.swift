#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COffloadSystem

/// A started worker process and the host's ends of its three pipes.
struct ChildProcess: Sendable {
    let pid: Int32
    /// The host writes frames here; the child reads them on its fd 3.
    let toChild: Int32
    /// The child writes frames on its fd 4; the host reads them here.
    let fromChild: Int32
    /// The child's stdout and stderr.
    let output: Int32

    /// Pipe buffers are raised to this size (best effort), so that a frame rarely blocks a writer.
    static let pipeBytes: Int32 = 512 << 10

    /// Starts `executable`; every descriptor the host keeps is close-on-exec.
    static func spawn(executable: String, arguments: [String], environment: [String], directory: String?) throws(OffloadError) -> ChildProcess {
        var jobs: [Int32] = [-1, -1], results: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        func closeAll() {
            for fd in jobs + results + output where fd >= 0 { close(fd) }
        }
        for index in 0..<3 {
            var fds: [Int32] = [-1, -1]
            let error = offload_pipe_cloexec(&fds)
            guard error == 0 else {
                closeAll()
                throw OffloadError(.workerStartFailed, "could not make a pipe: \(describeErrno(error))")
            }
            switch index {
            case 0: jobs = fds
            case 1: results = fds
            default: output = fds
            }
        }
        _ = offload_set_pipe_size(jobs[1], pipeBytes)
        _ = offload_set_pipe_size(results[1], pipeBytes)
        var pid: pid_t = 0
        let argv = [executable] + arguments
        let error = withCStrings(argv) { argv in
            withCStrings(environment) { envp in
                if let directory {
                    return directory.withCString { offload_spawn(executable, argv, envp, $0, jobs[0], results[1], output[1], output[1], &pid) }
                }
                return offload_spawn(executable, argv, envp, nil, jobs[0], results[1], output[1], output[1], &pid)
            }
        }
        close(jobs[0])
        close(results[1])
        close(output[1])
        guard error == 0 else {
            close(jobs[1])
            close(results[0])
            close(output[0])
            throw OffloadError(.workerStartFailed, "could not start '\(executable)': \(describeErrno(error))")
        }
        return ChildProcess(pid: pid, toChild: jobs[1], fromChild: results[0], output: output[0])
    }

    /// Waits for the process to end (reaping it) and returns its raw status.
    func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return status
    }
}

/// `strerror` of an errno value.
func describeErrno(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// `close(2)`, for types whose own `close()` hides it.
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
