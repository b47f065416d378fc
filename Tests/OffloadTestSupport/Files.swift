#if canImport(Glibc)
import Glibc
#endif
public import Offload

/// A fresh folder under /tmp for one test.
public func temporaryFolder(_ name: String) -> String {
    let path = "/tmp/offload-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(path, 0o755)
    return path
}

/// Writes `bytes` to `path`.
public func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        guard count > 0 else { break }
        offset += count
    }
    close(fd)
}

public func writeFile(_ path: String, _ text: String) { writeFile(path, Array(text.utf8)) }

/// The whole file at `path` (empty when it cannot be read).
public func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = read(fd, &chunk, chunk.count)
        if count <= 0 { return bytes }
        bytes += chunk[0..<count]
    }
}

/// The lines of `OUT/results.jsonl`, by job id.
public func resultLines(in out: String) throws -> [String: JSONValue] {
    var results: [String: JSONValue] = [:]
    for line in readFile(out + "/results.jsonl").split(separator: 0x0A) {
        let result = try JSONParser.parse(line)
        results[result["id"]?.stringValue ?? ""] = result
    }
    return results
}

/// Removes `path` and all it holds (never following a link out of it).
public func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR, let handle = opendir(path) {
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(handle)
        for name in names { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// An executable built beside the running test bundle (`offload-worker`, `offload`).
public func builtExecutable(_ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let own = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    return String(own[..<(own.lastIndex(of: "/") ?? own.startIndex)]) + "/" + name
}

/// Whether a process runs (a zombie or a missing pid does not).
public func isRunning(_ pid: Int32) -> Bool {
    let fd = open("/proc/\(pid)/stat", O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return false }
    let text = String(decoding: buffer[0..<count], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return false }
    let state = text[text.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}
