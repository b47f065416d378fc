#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens and reads files that a job or a folder of plugins names, without ever blocking on what
/// is not a file: a FIFO named `plugin.json`, `/dev/zero` or a terminal is refused at once
/// (opened non-blocking, then checked with `fstat`), and nothing longer than asked is read.
package enum RegularFile {
    /// Why a file could not be opened or read.
    package enum Failure: Error, Sendable, CustomStringConvertible {
        /// The system refused (`errno`).
        case system(Int32)
        /// A folder, a FIFO, a device or a socket.
        case notRegular(folder: Bool)
        /// Longer than the reader takes.
        case tooLarge(limit: Int)

        package var description: String {
            switch self {
            case .system(let code): String(cString: strerror(code))
            case .notRegular(let folder): folder ? "a folder, not a file" : "not a regular file"
            case .tooLarge(let limit): "over the limit of \(OffloadError.grouped(limit)) bytes"
            }
        }
    }

    /// A descriptor for reading `path`, which must be a regular file (symlinks followed).
    /// - Throws: ``Failure`` with the system's reason, or "not a regular file".
    package static func open(_ path: String) throws(Failure) -> Int32 {
        let fd = openDescriptor(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw .system(errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .system(code)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .notRegular(folder: (info.st_mode & S_IFMT) == S_IFDIR)
        }
        return fd
    }

    /// The size of the regular file open on `fd`.
    package static func size(_ fd: Int32) -> Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    /// The whole of the regular file at `path`, at most `maxBytes` long.
    /// - Throws: ``Failure``: the system's reason, not a regular file, or over `maxBytes`.
    package static func read(_ path: String, maxBytes: Int) throws(Failure) -> [UInt8] {
        let fd = try open(path)
        defer { close(fd) }
        let size = size(fd)
        guard size <= maxBytes else { throw .tooLarge(limit: maxBytes) }
        // A file growing while it is read is read up to the limit, then refused.
        var bytes = [UInt8](repeating: 0, count: min(size, maxBytes) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                guard bytes.count <= maxBytes else { throw .tooLarge(limit: maxBytes) }
                bytes += [UInt8](repeating: 0, count: min(max(bytes.count, 4096), maxBytes + 1 - bytes.count))
            }
            let read = bytes.withUnsafeMutableBytes { readDescriptor(fd, $0.baseAddress! + count, $0.count - count) }
            if read < 0 && errno == EINTR { continue }
            guard read >= 0 else { throw .system(errno) }
            if read == 0 { break }
            count += read
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}

/// `open(2)`, for scopes where a function `open` of their own hides it.
func openDescriptor(_ path: String, _ flags: Int32) -> Int32 {
    open(path, flags)
}

/// `read(2)`, for types whose own `read` hides it.
func readDescriptor(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
