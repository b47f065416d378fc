import Offload

#if canImport(Glibc)
import Glibc
#endif

/// An error of the C library, with its message (or a sentence of ours).
struct SystemError: Error {
    let code: Int32
    var message: String?
    var reason: String { message ?? String(cString: strerror(code)) }
}

enum SystemInfoCLI {
    static var cpuCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// Reads a file line by line, without holding it all in memory, and never more of one line
/// than `maxLineBytes`: a longer line is skipped to its end and reported by its length.
final class LineReader {
    /// What ``next()`` found.
    enum Line {
        case line([UInt8])
        /// A line longer than the limit, not kept: its length in bytes.
        case tooLong(Int)
        /// The file could not be read further (`errno`).
        case failed(Int32)
    }

    let maxLineBytes: Int
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(path: String, maxLineBytes: Int) throws(SystemError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError(code: errno) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: throw SystemError(code: EISDIR)
        // A file or a pipe; a device (`/dev/zero`, a terminal) or a socket never ends as a job file does.
        case S_IFREG, S_IFIFO: break
        default: throw SystemError(code: ENODEV, message: "it is a device or a socket, not a file or a pipe")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(code: errno) }
        self.fd = fd
        self.maxLineBytes = maxLineBytes
    }

    deinit { close(fd) }

    /// The next line without its newline; `nil` at the end of the file.
    func next() -> Line? {
        var kept: [UInt8] = []
        var length = 0
        while true {
            if start < end {
                let newline = buffer[start..<end].firstIndex(of: 0x0A)
                let stop = newline ?? end
                length += stop - start
                if length <= maxLineBytes { kept += buffer[start..<stop] } else { kept = [] }
                start = newline.map { $0 + 1 } ?? end
                if newline != nil { return length > maxLineBytes ? .tooLong(length) : .line(kept) }
            }
            if atEnd { return length == 0 && kept.isEmpty ? nil : (length > maxLineBytes ? .tooLong(length) : .line(kept)) }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            (start, end) = (0, count)
            if count == 0 { atEnd = true }
        }
    }
}

/// A buffered output file.
final class FileSink: @unchecked Sendable {
    // `@unchecked Sendable`: used by one task at a time (the runner), never concurrently.
    private let handle: UnsafeMutablePointer<FILE>
    private let owned: Bool

    /// Creates or empties `path`, never through a symbolic link.
    init(path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw errno == ELOOP ? SystemError(code: ELOOP, message: "\(path) is a symbolic link") : SystemError(code: errno)
        }
        guard let handle = fdopen(fd, "w") else {
            let code = errno
            close(fd)
            throw SystemError(code: code)
        }
        self.handle = handle
        owned = true
    }

    private init(handle: UnsafeMutablePointer<FILE>) {
        self.handle = handle
        owned = false
    }

    static let standardOutput = FileSink(handle: fdopen(STDOUT_FILENO, "w"))
    static let standardError = FileSink(handle: fdopen(STDERR_FILENO, "w"))

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
    }

    func flush() { fflush(handle) }

    deinit { if owned { fclose(handle) } }
}

/// The output folder of a run.
struct OutputFolder {
    let results: FileSink
    /// Where jobs write their files (`OUT/files`), apart from results.jsonl.
    let files: String

    init(path: String) throws(SystemError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw SystemError(code: errno) }
        // Neither is followed when it is a link someone left: results and files stay in OUT.
        files = path + "/files"
        var info = stat()
        if lstat(files, &info) == 0 && (info.st_mode & S_IFMT) != S_IFDIR {
            throw SystemError(code: ENOTDIR, message: "\(files) is \((info.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : "not a folder")")
        }
        results = try FileSink(path: path + "/results.jsonl")
    }
}

/// The live line on a terminal: done/total, rate, failures.
struct ProgressLine {
    func draw(done: Int, total: Int, failed: Int, elapsed: Duration) {
        let seconds = max(elapsed.seconds, 1e-9)
        let rate = elapsed == .zero ? 0 : Double(done) / seconds
        let text = "\r\u{1B}[2K  \(done)/\(total) jobs · \(format(rate, digits: 1)) jobs/s · \(failed) failed"
        FileSink.standardError.write(Array(text.utf8))
        FileSink.standardError.flush()
    }

    func finish() {
        FileSink.standardError.write(Array("\n".utf8))
        FileSink.standardError.flush()
    }
}

func format(_ value: Double, digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if digits > 0, let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    }
    return text
}

/// The table printed at the end of a run.
struct SummaryTable {
    let report: JobFileRunner.Report

    var text: String {
        func milliseconds(_ values: [Duration], _ quantile: Double) -> String {
            guard !values.isEmpty else { return "-" }
            let sorted = values.sorted()
            let index = min(sorted.count - 1, Int((quantile * Double(sorted.count)).rounded(.up)) - 1)
            let value = sorted[max(index, 0)]
            return format(value.seconds * 1000, digits: 2) + " ms"
        }
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        func padLeft(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var lines = ["", pad("status", 12) + padLeft("jobs", 8)]
        for status in JobStatus.allCases {
            lines.append(pad(status.rawValue, 12) + padLeft(String(report.counts[status, default: 0]), 8))
        }
        lines.append(pad("total", 12) + padLeft(String(report.total), 8))
        lines.append("")
        lines.append(pad("", 8) + padLeft("p50", 14) + padLeft("p99", 14))
        lines.append(pad("wait", 8) + padLeft(milliseconds(report.waits, 0.5), 14) + padLeft(milliseconds(report.waits, 0.99), 14))
        lines.append(pad("run", 8) + padLeft(milliseconds(report.runs, 0.5), 14) + padLeft(milliseconds(report.runs, 0.99), 14))
        lines.append("")
        lines.append("\(report.total) jobs in \(format(report.elapsed.seconds, digits: 2)) s")
        return lines.joined(separator: "\n") + "\n"
    }
}
