#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a job's output file atomically (a temporary name, then a rename), making the folder
/// when needed.
package enum OutputFile {
    /// Writes `bytes` to `directory/name`.
    /// - Throws: ``OffloadError/Code/handlerFailed`` with the system's reason.
    package static func write(_ bytes: [UInt8], to directory: String, name: String) throws(OffloadError) {
        let writer = try Writer(directory: directory, name: name)
        try writer.append(bytes)
        try writer.commit()
    }

    /// An output file written piece by piece under a temporary name, which takes its own name
    /// only when committed (a job that fails leaves no half-written output behind).
    package final class Writer {
        /// The temporary file being written.
        package let temporaryPath: String
        package let path: String
        private var fd: Int32

        /// Creates `directory/name`'s temporary file (`tag` tells apart several at once).
        package init(directory: String, name: String, tag: String = "") throws(OffloadError) {
            try makeDirectory(directory)
            AbandonedParts.sweepOnce(directory)
            path = directory + "/" + name
            temporaryPath = path + ".part-\(getpid())\(tag)"
            // Never through a link someone left, never onto a file another writer has open.
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
            fd = open(temporaryPath, flags, 0o644)
            if fd < 0 && errno == EEXIST {
                // Left by an earlier process of the same pid: this process is its only writer.
                unlink(temporaryPath)
                fd = open(temporaryPath, flags, 0o644)
            }
            guard fd >= 0 else { throw failure("cannot create \(temporaryPath)") }
        }

        deinit { discard() }

        package func append(_ bytes: UnsafeRawBufferPointer) throws(OffloadError) {
            var offset = 0
            while offset < bytes.count {
                let count = writeDescriptor(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw failure("cannot write \(temporaryPath)") }
                offset += count
            }
        }

        package func append(_ bytes: [UInt8]) throws(OffloadError) {
            let error = bytes.withUnsafeBytes { raw -> OffloadError? in
                do throws(OffloadError) { try append(raw) } catch { return error }
                return nil
            }
            if let error { throw error }
        }

        /// Appends the whole content of the file at `source`.
        package func appendFile(_ source: String) throws(OffloadError) {
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
        package func commit() throws(OffloadError) {
            close(fd)
            fd = -1
            guard rename(temporaryPath, path) == 0 else {
                unlink(temporaryPath)
                throw failure("cannot rename \(temporaryPath) to \(path)")
            }
        }

        /// Removes the temporary file (nothing once committed).
        package func discard() {
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
            unlink(temporaryPath)
        }
    }

    /// The file name of job `id`'s output: `<id>.<ext>` where the id is made safe and kept
    /// distinct — letters, digits, `-`, `_` and inner dots stay; every other byte (and a leading
    /// dot) becomes `%XX`, so `a/b`, `a_b` and `a\b`, or `.`, `..` and `...`, never share a file
    /// and no id reaches outside the folder. An id too long for a file name keeps its start and
    /// gains its SHA-256 (`%~` and 32 hex digits, which no short name can contain).
    package static func name(for id: JobID, extension fileExtension: String) -> String {
        var stem = ""
        for (index, byte) in id.rawValue.utf8.enumerated() {
            let kept =
                (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || (byte == UInt8(ascii: ".") && index > 0)
            if kept {
                stem.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                stem += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        // The empty id: `%` alone, which no other id's name is.
        if stem.isEmpty { stem = "%" }
        if stem.utf8.count > maxStemBytes {
            var start = String(stem.prefix(maxStemBytes - 40))
            // Cut before an escape the prefix would split.
            if let percent = start.suffix(2).lastIndex(of: "%") { start = String(start[..<percent]) }
            stem = start + "%~" + String(SHA256.hex(id.rawValue).prefix(32))
        }
        return stem + "." + fileExtension
    }

    /// File names are at most 255 bytes; room is left for the extension and a temporary suffix.
    static let maxStemBytes = 200

    private static func makeDirectory(_ directory: String) throws(OffloadError) {
        do { try FolderPath.make(directory, mode: 0o755) } catch {
            throw OffloadError(.handlerFailed, "cannot make the folder \(error.path): \(error.reason)")
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
