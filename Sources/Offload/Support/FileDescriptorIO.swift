#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes all of `bytes` to `fd`, retrying after interruptions and waiting while a
/// non-blocking descriptor is full. Returns `false` when the descriptor fails (a closed pipe).
@discardableResult
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            if errno == EAGAIN {
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, 100)
                continue
            }
            return false
        }
        offset += written
    }
    return true
}

/// Writes `text` to the process's stderr.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = writeFully(2, UnsafeRawBufferPointer($0)) }
}
