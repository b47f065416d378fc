#if canImport(Glibc)
import Glibc
#endif
import Offload

/// `ipc` (the Swift side of one round): worker start-up, the 64-byte round trip through the
/// public async API beside a bare blocking pipe ping-pong (alternating, same run), tiny jobs/s
/// through 2 worker processes, and idle worker memory. `benchmarks/ipc/run` alternates rounds
/// with the Python peer and prints the summaries.
struct IpcSuite {
    let round: Int
    let samples: Int
    let jobs: Int
    let smallWorker: String
    let rerunHost: String
    /// The small worker linked with a static Swift runtime, when built (`--static-worker PATH`).
    let staticWorker: String?

    private var starters: [(String, String)] {
        [("smallWorker", smallWorker)] + (staticWorker.map { [("staticWorker", $0)] } ?? []) + [("rerunHost", rerunHost)]
    }

    func run() async throws {
        if CommandLine.arguments.contains("--throughput-only") {
            Report.line([("tinyJobsPerSecondPrefetch16", .number(try await throughput(prefetch: 16)))])
            return
        }
        if CommandLine.arguments.contains("--round-trips-only") {
            let trips = try await roundTrips()
            Report.line([("roundTripMicrosP50", .number(trips.ours.p50)), ("barePipeMicrosP50", .number(trips.pipe.p50))])
            return
        }
        var fields: [(String, JSONField)] = [("suite", .string("ipc")), ("side", .string("offload")), ("round", .int(round))]
        for (name, executable) in starters {
            let (ready, first) = try await startUp(executable)
            fields += [("\(name)SpawnToReadyMsP50", .number(ready)), ("\(name)StartToFirstResultMsP50", .number(first))]
        }
        let trips = try await roundTrips()
        fields += [
            ("roundTripMicrosP50", .number(trips.ours.p50)), ("roundTripMicrosP99", .number(trips.ours.p99)),
            ("barePipeMicrosP50", .number(trips.pipe.p50)), ("barePipeMicrosP99", .number(trips.pipe.p99))
        ]
        for prefetch in [16, 1] {
            fields.append(("tinyJobsPerSecondPrefetch\(prefetch)", .number(try await throughput(prefetch: prefetch))))
        }
        for (name, executable) in starters {
            let (privateBytes, resident) = try await idleMemory(executable)
            fields += [("\(name)IdlePrivateMB", .number(Double(privateBytes) / 1e6)), ("\(name)IdleResidentMB", .number(Double(resident) / 1e6))]
        }
        Report.line(fields)
    }

    private func configuration(_ executable: String, workers: Int = 1, prefetch: Int = 1) -> PoolConfiguration {
        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(workers), preemption: false)
        configuration.workerProcess.executable = executable
        configuration.workerProcess.prefetch = prefetch
        return configuration
    }

    /// Spawn → `workerReady` (from the pool's events) and pool start → first echo result, p50 of 15.
    private func startUp(_ executable: String) async throws -> (Double, Double) {
        var ready: [Double] = []
        var first: [Double] = []
        for _ in 0..<15 {
            let start = ContinuousClock.now
            let pool = try WorkerPool(configuration: configuration(executable), registry: .diagnostics)
            // Subscribed before the pool runs, so that no start-up event is missed.
            let events = pool.events()
            async let running: Void = pool.run()
            let outcome = try await pool.process(Job(kind: "debug.echo"))
            precondition(outcome.status == .completed)
            first.append((ContinuousClock.now - start).secondsValue * 1e3)
            await pool.shutdown()
            try await running
            var initialized: Duration?
            for await event in events {
                if case .workerStarting = event { initialized = event.time }
                if case .workerReady = event, let initialized {
                    ready.append((event.time - initialized).secondsValue * 1e3)
                }
            }
        }
        return (Report.median(ready), Report.median(first))
    }

    struct Percentiles {
        var p50: Double
        var p99: Double
        init(_ samples: [Double]) {
            let sorted = samples.sorted()
            p50 = sorted[sorted.count / 2]
            p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        }
    }

    /// 64-byte echo jobs through `pool.process`, alternating blocks of 100 with a bare pipe ping-pong.
    private func roundTrips() async throws -> (ours: Percentiles, pipe: Percentiles) {
        let payload = JSONValue.string(String(repeating: "x", count: 62))  // 64 bytes of JSON
        let pipe = try BarePipe()
        defer { pipe.close() }
        return try await WorkerPool.withPool(configuration: configuration(smallWorker), registry: .diagnostics) { pool in
            _ = try await pool.process(Job(kind: "debug.echo", payload: .json(payload)))
            var ours: [Double] = []
            var bare: [Double] = []
            for _ in 0..<(samples / 100) {
                for _ in 0..<100 {
                    let start = ContinuousClock.now
                    let outcome = try await pool.process(Job(kind: "debug.echo", payload: .json(payload)))
                    ours.append((ContinuousClock.now - start).secondsValue * 1e6)
                    precondition(outcome.status == .completed)
                }
                for _ in 0..<100 { bare.append(pipe.pingPong()) }
            }
            return (Percentiles(ours), Percentiles(bare))
        }
    }

    /// Tiny jobs a second through 2 worker processes holding `prefetch` jobs each.
    private func throughput(prefetch: Int) async throws -> Double {
        try await WorkerPool.withPool(configuration: configuration(smallWorker, workers: 2, prefetch: prefetch), registry: .diagnostics) { pool in
            while pool.metrics.workers < 2 { try await Task.sleep(for: .milliseconds(1)) }
            let start = ContinuousClock.now
            var handles: [JobHandle<JSONValue>] = []
            handles.reserveCapacity(jobs)
            for value in 0..<jobs {
                handles.append(try await pool.submit(Job(kind: "debug.echo", payload: .json(.int(Int64(value))))))
            }
            var sum: Int64 = 0
            for handle in handles { sum &+= try await handle.value(as: Int64.self) }
            let elapsed = ContinuousClock.now - start
            precondition(sum == Int64(jobs) * Int64(jobs - 1) / 2, "wrong results")
            return Double(jobs) / elapsed.secondsValue
        }
    }

    /// Private memory (USS) and VmRSS of an idle worker, 300 ms after its first job.
    private func idleMemory(_ executable: String) async throws -> (Int, Int) {
        try await WorkerPool.withPool(configuration: configuration(executable), registry: .diagnostics) { pool in
            let outcome = try await pool.process(Job(kind: "debug.echo"))
            try await Task.sleep(for: .milliseconds(300))
            return ProcFS.memory(of: outcome.workerPID ?? 0)
        }
    }
}

/// A child `cat` on two pipes: the floor a round trip through a process can reach.
struct BarePipe {
    let child: Spawned

    init() throws { child = try Spawned("/bin/sh", ["-c", "exec cat <&3 >&4"]) }

    /// One 64-byte ping-pong, in microseconds.
    func pingPong() -> Double {
        var buffer = [UInt8](repeating: 0x78, count: 64)
        let start = ContinuousClock.now
        _ = buffer.withUnsafeBytes { write(child.toChild, $0.baseAddress, 64) }
        var received = 0
        while received < 64 {
            let count = buffer.withUnsafeMutableBytes { read(child.fromChild, $0.baseAddress! + received, 64 - received) }
            guard count > 0 else { fatalError("cat ended") }
            received += count
        }
        return (ContinuousClock.now - start).secondsValue * 1e6
    }

    func close() { child.reap() }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Memory figures of a process from `/proc`.
enum ProcFS {
    /// Private bytes (Private_Clean + Private_Dirty of smaps_rollup) and VmRSS.
    static func memory(of pid: Int32) -> (privateBytes: Int, resident: Int) {
        var privateBytes = 0
        for line in lines("/proc/\(pid)/smaps_rollup") where line.hasPrefix("Private_Clean:") || line.hasPrefix("Private_Dirty:") {
            privateBytes += kilobytes(line) * 1024
        }
        let resident = lines("/proc/\(pid)/status").first { $0.hasPrefix("VmRSS:") }.map { kilobytes($0) * 1024 } ?? 0
        return (privateBytes, resident)
    }

    /// VmRSS of this process, in bytes.
    static var ownResident: Int { memory(of: getpid()).resident }

    private static func kilobytes(_ line: Substring) -> Int {
        Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    static func lines(_ path: String) -> [Substring] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    }
}
