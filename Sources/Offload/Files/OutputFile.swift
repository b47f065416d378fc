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
        let writer = try Writer(directory: directory, name: name)
        try writer.append(bytes)
        try writer.commit()
    }

    /// An output file written piece by piece under a temporary name, which takes its own name
    /// only when committed (a job that fails leaves no half-written output behind).
    public final class Writer {
        /// The temporary file being written.
        public let temporaryPath: String
        public let path: String
        private var fd: Int32

        /// Creates `directory/name`'s temporary file (`tag` tells apart several at once).
        public init(directory: String, name: String, tag: String = "") throws(OffloadError) {
            try makeDirectory(directory)
            AbandonedParts.sweepOnce(directory)
            path = directory + "/" + name
            temporaryPath = path + ".part-\(getpid())\(tag)"
            fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw failure("cannot create \(temporaryPath)") }
        }

        deinit { discard() }

        public func append(_ bytes: UnsafeRawBufferPointer) throws(OffloadError) {
            var offset = 0
            while offset < bytes.count {
                let count = writeDescriptor(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw failure("cannot write \(temporaryPath)") }
                offset += count
            }
        }

        public func append(_ bytes: [UInt8]) throws(OffloadError) {
            let error = bytes.withUnsafeBytes { raw -> OffloadError? in
                do throws(OffloadError) { try append(raw) } catch { return error }
                return nil
            }
            if let error { throw error }
        }

        /// Appends the whole content of the file at `source`.
        public func appendFile(_ source: String) throws(OffloadError) {
            let input = open(source, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw failure("cannot open \(source)") }
            defer { close(input) }
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { throw failure("cannot read \(source)") }
                if count == 0 { return }
                try append(Array(chunk[0..<count]))
            }
        }

        /// Gives the file its name.
        public func commit() throws(OffloadError) {
            close(fd)
            fd = -1
            guard rename(temporaryPath, path) == 0 else {
                unlink(temporaryPath)
                throw failure("cannot rename \(temporaryPath) to \(path)")
            }
        }

        /// Removes the temporary file (nothing once committed).
        public func discard() {
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
            unlink(temporaryPath)
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
