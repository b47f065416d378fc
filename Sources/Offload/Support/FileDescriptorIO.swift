#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a write ended.
enum WriteOutcome {
    case written
    /// The descriptor failed (a closed pipe).
    case failed
    /// The reader made no room before the deadline (a stopped process).
    case stalled
}

/// Writes all of `bytes` to `fd`, retrying after interruptions and waiting while a
/// non-blocking descriptor is full (until `deadline`, when given).
@discardableResult
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, deadline: ContinuousClock.Instant? = nil) -> WriteOutcome {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            if errno == EAGAIN {
                if let deadline, ContinuousClock.now >= deadline { return .stalled }
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, 100)
                continue
            }
            return .failed
        }
        offset += written
    }
    return .written
}

/// Writes `text` to the process's stderr.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = writeFully(2, UnsafeRawBufferPointer($0)) }
}
