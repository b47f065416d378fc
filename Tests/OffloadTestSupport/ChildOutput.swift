#if canImport(Glibc)
import Glibc
#endif
@testable public import Offload

/// Reads what `child` prints until it closes its output (it has exited, or is about to),
/// keeping at most `keep` bytes, and kills it with SIGKILL once `killAfter` has passed. It waits
/// by sleeping, never blocking a thread of the cooperative pool other tests run on.
public func readOutput(of child: ChildProcess, killAfter: Duration, keep: Int = 1 << 20) async throws -> [UInt8] {
    let deadline = ContinuousClock.now + killAfter
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    var killed = false
    while true {
        var poller = pollfd(fd: child.output, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, 0) > 0 {
            let count = read(child.output, &chunk, chunk.count)
            if count <= 0 { break }
            if output.count < keep { output += chunk[0..<count] }
        } else if !killed && ContinuousClock.now > deadline {
            kill(child.pid, SIGKILL)
            killed = true
        } else {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
    return output
}
