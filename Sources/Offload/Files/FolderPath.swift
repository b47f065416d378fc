#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Folders made as `mkdir -p` makes them: the folder and those above it that are missing.
package enum FolderPath {
    /// The folder that could not be made, and why (`strerror`).
    package struct Failure: Error {
        package var path: String
        package var reason: String
    }

    /// Makes `path` and each missing folder above it, with `mode`; an existing folder is kept.
    package static func make(_ path: String, mode: UInt32) throws(Failure) {
        var made = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            made += (made.isEmpty || made.hasSuffix("/") ? "" : "/") + part
            if mkdir(made, mode_t(mode)) != 0 && errno != EEXIST { throw Failure(path: made, reason: String(cString: strerror(errno))) }
        }
    }
}
