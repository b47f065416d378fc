#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Temporary output files (`NAME.part-PID…`) left by a process that died while writing them — a
/// worker killed at its deadline or over its memory limit has no chance to remove its own.
/// The first writer in a folder, in each process, removes those whose process is gone and that
/// nobody has written for a minute (the age guards against a process of another machine
/// sharing the folder).
enum AbandonedParts {
    private static let swept = Mutex<Set<String>>([])
    static let minimumAge: Int = 60

    static func sweepOnce(_ directory: String) {
        guard swept.withLock({ $0.insert(directory).inserted }) else { return }
        sweep(directory, now: time(nil))
    }

    /// Removes the abandoned temporary files of `directory`; returns their names.
    @discardableResult
    static func sweep(_ directory: String, now: time_t) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var removed: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = writerPID(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, now - info.st_mtim.tv_sec >= minimumAge else { continue }
            if unlink(path) == 0 { removed.append(name) }
        }
        return removed
    }

    /// The pid in a temporary file's name (`…part-PID` and an optional `.TAG`).
    static func writerPID(_ name: String) -> pid_t? {
        let bytes = Array(name.utf8)
        let marker = Array(".part-".utf8)
        guard bytes.count > marker.count else { return nil }
        // The last occurrence of the marker: the name itself may contain one.
        guard
            let start = stride(from: bytes.count - marker.count, through: 0, by: -1)
                .first(where: { bytes[$0..<$0 + marker.count].elementsEqual(marker) })
        else { return nil }
        let after = bytes[(start + marker.count)...]
        let digits = after.prefix { (0x30...0x39).contains($0) }
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        let rest = after.dropFirst(digits.count)
        guard rest.isEmpty || rest.first == UInt8(ascii: ".") else { return nil }
        return pid_t(String(decoding: digits, as: UTF8.self))
    }
}
