#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a job's output file atomically (a temporary name, then a rename), making the folder
/// when needed.
public enum OutputFile {
    /// Writes `bytes` to `directory/name`.
    /// - Throws: ``OffloadError/Code/handlerFailed`` with the system's reason.
    public static func write(_ bytes: [UInt8], to directory: String, name: String) throws(OffloadError) {
        try makeDirectory(directory)
        let path = directory + "/" + name
        let temporary = path + ".part-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        let written = bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let count = writeDescriptor(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        close(fd)
        guard written else {
            unlink(temporary)
            throw failure("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure("cannot rename \(temporary) to \(path)")
        }
    }

    private static func makeDirectory(_ directory: String) throws(OffloadError) {
        var path = directory.hasPrefix("/") ? "/" : ""
        for part in directory.split(separator: "/") {
            path += (path.isEmpty || path.hasSuffix("/") ? "" : "/") + part
            if mkdir(path, 0o755) != 0 && errno != EEXIST { throw failure("cannot make the folder \(path)") }
        }
    }

    private static func failure(_ what: String) -> OffloadError {
        OffloadError(.handlerFailed, "\(what): \(String(cString: strerror(errno)))")
    }
}

/// `write(2)`, for scopes where a `write` of their own hides it.
func writeDescriptor(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
