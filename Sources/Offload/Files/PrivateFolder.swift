#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A folder of this user's own under the temporary folder (`$TMPDIR`, else `/tmp`), for caches
/// such as the fonts jobs bring: `offload-<uid>/<name>`, made with mode 0700. A folder of that
/// name that someone else made, that others may enter, or that is a symlink is refused, never
/// used: another user of a shared machine must not be able to plant or read its files.
package enum PrivateFolder {
    /// The path of the folder `name`, made when missing.
    /// - Parameter base: the shared folder it goes in (default `$TMPDIR`, else `/tmp`).
    /// - Throws: ``OffloadError/Code/handlerFailed`` saying why the folder cannot be trusted.
    package static func temporary(_ name: String, under base: String? = nil) throws(OffloadError) -> String {
        let base = base ?? getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let root = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/offload-\(getuid())"
        try ensure(root)
        let folder = root + "/" + name
        try ensure(folder)
        return folder
    }

    /// Makes `path` (mode 0700) unless it exists, then checks it is a folder of ours alone.
    static func ensure(_ path: String) throws(OffloadError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw OffloadError(.handlerFailed, "cannot make the private folder \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        // lstat: a symlink planted under the expected name is refused, not followed.
        guard lstat(path, &info) == 0 else {
            throw OffloadError(.handlerFailed, "cannot inspect the private folder \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw OffloadError(.handlerFailed, "\(path) is not a folder (a link or a file is in its place); refusing to use it")
        }
        guard info.st_uid == getuid() else {
            throw OffloadError(.handlerFailed, "\(path) belongs to another user (uid \(info.st_uid)); refusing to use it")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw OffloadError(.handlerFailed, "\(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); refusing to use it")
        }
    }
}
