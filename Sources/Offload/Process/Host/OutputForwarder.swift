#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads what a worker process prints, on a thread of its own: copies whole lines to the host's
/// stderr with the worker's name in front (when asked), and keeps the last lines, which name
/// the cause when the worker dies (`Fatal error: …`, `Could not allocate memory`).
final class OutputForwarder: @unchecked Sendable {
    // `@unchecked Sendable`: `tail` and `ended` are read and written under `condition` only.
    private let condition = ConditionLock()
    private var tail: [UInt8] = []
    private var ended = false
    private static let tailBytes = 4096

    /// Starts reading `fd`, which the forwarder closes at its end.
    init(fd: Int32, prefix: String, forwards: Bool) {
        OSThread.detach(name: "offload-out") { [self] in
            run(fd: fd, prefix: Array("[\(prefix)] ".utf8), forwards: forwards)
        }
    }

    /// The last lines printed, once the stream has ended or `timeout` has passed.
    func lastLines(waitingUpTo timeout: Duration) -> String {
        let deadline = ContinuousClock.now + timeout
        condition.lock()
        while !ended {
            let left = deadline - .now
            if left <= .zero { break }
            condition.wait(timeout: left)
        }
        let text = String(decoding: tail, as: UTF8.self)
        condition.unlock()
        return text
    }

    private func run(fd: Int32, prefix: [UInt8], forwards: Bool) {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            condition.lock()
            tail.append(contentsOf: chunk[0..<count])
            if tail.count > Self.tailBytes { tail.removeFirst(tail.count - Self.tailBytes) }
            condition.unlock()
            guard forwards else { continue }
            for byte in chunk[0..<count] {
                line.append(byte)
                // A line without end is cut: what a worker prints never piles up here.
                if byte == UInt8(ascii: "\n") || line.count >= Self.maxLineBytes {
                    if byte != UInt8(ascii: "\n") { line.append(UInt8(ascii: "\n")) }
                    emit(prefix + line)
                    line.removeAll(keepingCapacity: true)
                }
            }
        }
        if forwards && !line.isEmpty { emit(prefix + line + [UInt8(ascii: "\n")]) }
        close(fd)
        condition.lock()
        ended = true
        condition.unlock()
        condition.signal()
    }

    /// The longest line copied whole; a longer one is cut into lines of this length.
    static let maxLineBytes = 16 << 10

    private func emit(_ bytes: [UInt8]) {
        VisibleText.escaped(bytes, keepsLineEnd: true).withUnsafeBytes { _ = writeFully(2, $0) }
    }
}
