#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a process's resident memory and CPU time from `/proc` (about 10 µs).
enum ProcessStats {
    static func sample(_ pid: Int32) -> WorkerResourceUsage? {
        guard pid > 0,
            let statm = contents(of: "/proc/\(pid)/statm"),
            let stat = contents(of: "/proc/\(pid)/stat")
        else { return nil }
        // statm: size resident shared text lib data dt (pages).
        let memory = statm.split(separator: " ")
        guard memory.count >= 2, let resident = Int(memory[1]) else { return nil }
        // stat: pid (comm) state … utime is field 14 and stime 15, counted after the comm's ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        let ticks = user + system
        let cpu = Duration.nanoseconds(Int64(ticks) * 1_000_000_000 / Int64(max(SystemInfo.clockTicks, 1)))
        return WorkerResourceUsage(residentBytes: resident * SystemInfo.pageSize, cpuTime: cpu)
    }

    private static func contents(of path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> String? in
            let count = read(fd, buffer.baseAddress, buffer.count)
            guard count > 0 else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }
}
