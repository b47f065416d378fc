#if canImport(Glibc)
import Glibc
#endif
@_spi(Fuzzing) import Offload
import Synchronization

/// `chaos`: reliability figures. Jobs under a storm of worker kills, a hang, an allocation past
/// the memory limit, the host killed by SIGKILL, and the wire decoder under a fuzzer.
struct ChaosSuite {
    let jobs: Int
    /// Hostile jobs mixed into `jobs` good ones through `offload run`.
    let hostile: Int
    let worker: String
    let cli: String

    func run() async throws {
        try await killStorm()
        try await hang()
        try await memory()
        try await hostKill()
        fuzz(inputs: 1_000_000)
        let folder = try await hostileFixtures()
        for isolation in ["thread", "process"] { try await hostileMix(isolation: isolation, good: jobs, hostile: hostile, folder: folder) }
        try await stopLatency(folder: folder)
    }

    private func configuration(workers: Int = 2) -> PoolConfiguration {
        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(workers), preemption: false)
        configuration.workerProcess.executable = worker
        configuration.workerProcess.forwardsOutput = false
        return configuration
    }

    /// `jobs` short jobs on 2 workers while a random worker is SIGKILLed every 100 ms.
    private func killStorm() async throws {
        let kills = KillCounter()
        let (outcomes, executions, elapsed) = try await WorkerPool.withPool(configuration: configuration(), registry: .diagnostics) { pool in
            let events = pool.events()
            let counter = Task { () -> Int in
                var started = 0
                for await case .jobStarted in events { started += 1 }
                return started
            }
            let killer = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    let pids = pool.metrics.perWorker.filter { $0.state != .initializing }.map(\.pid).filter { $0 > 0 }
                    if let victim = pids.randomElement(), kill(victim, SIGKILL) == 0 { kills.count.add(1, ordering: .relaxed) }
                }
            }
            let start = ContinuousClock.now
            var handles: [JobHandle<JSONValue>] = []
            for index in 0..<jobs {
                var job = Job(id: JobID("c\(index)"), kind: "debug.sleep", payload: .json(.object([("ms", .int(1))])), maxRetries: 50)
                job.retryPolicy = RetryPolicy(initialDelay: .milliseconds(5), multiplier: 1.5, maxDelay: .milliseconds(200))
                handles.append(try await pool.submit(job))
            }
            var outcomes: [JobOutcome] = []
            for handle in handles { outcomes.append(await handle.outcome) }
            let elapsed = ContinuousClock.now - start
            killer.cancel()
            _ = await killer.result
            return (outcomes, counter, elapsed)
        }
        let started = await executions.value
        let completed = outcomes.filter { $0.status == .completed }.count
        let failed = outcomes.filter { $0.status == .failed }.count
        let lost = jobs - outcomes.count + outcomes.filter { $0.status == .cancelled }.count
        let duplicates = started - jobs
        let killCount = kills.count.load(ordering: .relaxed)
        Report.line([
            ("suite", .string("chaos")), ("figure", .string("kill storm")), ("jobs", .int(jobs)), ("kills", .int(killCount)),
            ("completed", .int(completed)), ("failed", .int(failed)), ("lost", .int(lost)),
            ("executions", .int(started)), ("duplicateExecutions", .int(duplicates)), ("seconds", .number(elapsed.secondsValue))
        ])
        Report.summary(
            suite: "chaos", figure: "\(jobs) jobs, 2 worker processes, a random worker SIGKILLed every 100 ms: completed",
            ours: Double(completed), peer: nil, ratio: nil,
            goal: "\(jobs) completed, 0 lost, duplicates ≤ kills (\(killCount) kills, \(lost) lost, \(duplicates) duplicates)", unit: "jobs")
    }

    /// A `debug.hang` with a 200 ms timeout: when it fails, and when the pool is back to full size.
    private func hang() async throws {
        try await WorkerPool.withPool(configuration: configuration(), registry: .diagnostics) { pool in
            while pool.metrics.workers < 2 { try await Task.sleep(for: .milliseconds(1)) }
            var job = Job(kind: "debug.hang")
            job.timeout = .milliseconds(200)
            let outcome = try await pool.process(job)
            let failedAt = ContinuousClock.now
            while pool.metrics.workers < 2 { try await Task.sleep(for: .microseconds(200)) }
            let refilled = ContinuousClock.now - failedAt
            Report.line([
                ("suite", .string("chaos")), ("figure", .string("hang")), ("code", .string(outcome.error?.code.rawValue ?? "none")),
                ("runMs", .number(outcome.runTime.secondsValue * 1e3)), ("poolFullAgainMs", .number(refilled.secondsValue * 1e3))
            ])
            Report.summary(
                suite: "chaos", figure: "debug.hang with a 200 ms timeout: failed \(outcome.error?.code.rawValue ?? "?") after (ms)",
                ours: outcome.runTime.secondsValue * 1e3, peer: nil, ratio: nil, goal: "timedOut within 250 ms of its start", unit: "ms")
        }
    }

    /// A `debug.alloc` of 2048 MiB in workers limited to 256 MiB.
    private func memory() async throws {
        var configuration = configuration()
        configuration.workerProcess.memoryLimit = 256 << 20
        try await WorkerPool.withPool(configuration: configuration, registry: .diagnostics) { pool in
            while pool.metrics.workers < 2 { try await Task.sleep(for: .milliseconds(1)) }
            let before = ProcFS.ownResident
            let outcome = try await pool.process(Job(kind: "debug.alloc", payload: .json(.object([("mb", .int(2048))]))))
            while pool.metrics.workers < 2 { try await Task.sleep(for: .milliseconds(1)) }
            let after = ProcFS.ownResident
            Report.line([
                ("suite", .string("chaos")), ("figure", .string("memory")), ("code", .string(outcome.error?.code.rawValue ?? "none")),
                ("hostResidentBeforeMB", .number(Double(before) / 1e6)), ("hostResidentAfterMB", .number(Double(after) / 1e6)),
                ("workers", .int(pool.metrics.workers))
            ])
            Report.summary(
                suite: "chaos", figure: "debug.alloc 2048 MiB under a 256 MiB limit: host RSS change (\(outcome.error?.code.rawValue ?? "no error"))",
                ours: Double(after - before) / 1e6, peer: nil, ratio: nil, goal: "memoryLimitExceeded, host RSS unchanged, worker replaced",
                unit: "MB")
        }
    }

    /// `offload run` with 2 worker processes, killed by SIGKILL: how long until no worker runs.
    private func hostKill() async throws {
        let folder = "/tmp/offload-chaos-\(getpid())"
        mkdir(folder, 0o755)
        let jobFile = "\(folder)/jobs.jsonl"
        try writeFile(jobFile, #"{"kind":"debug.hang"}"# + "\n" + #"{"kind":"debug.hang"}"# + "\n")
        let host = try Spawned(
            cli,
            [
                "run", jobFile, "--isolation", "process", "--workers", "2", "--quiet",
                "--events", "\(folder)/events.jsonl", "--out", "\(folder)/out"
            ])
        var workers: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while workers.count < 2 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            workers = ProcFS.lines("\(folder)/events.jsonl").filter { $0.contains(#""event":"started""#) }.compactMap { line in
                line.split(separator: ",").first { $0.hasPrefix(#""pid":"#) }.flatMap { Int32($0.dropFirst(6)) }
            }
        }
        let killed = ContinuousClock.now
        kill(host.pid, SIGKILL)
        host.reap()
        while workers.contains(where: isRunning) && ContinuousClock.now - killed < .seconds(5) {
            try await Task.sleep(for: .milliseconds(2))
        }
        let gone = ContinuousClock.now - killed
        let survivors = workers.filter(isRunning).count
        Report.line([
            ("suite", .string("chaos")), ("figure", .string("host killed")), ("workers", .int(workers.count)),
            ("survivors", .int(survivors)), ("goneAfterMs", .number(gone.secondsValue * 1e3))
        ])
        Report.summary(
            suite: "chaos", figure: "host SIGKILLed: every worker process gone after (ms; \(workers.count) workers, \(survivors) left)",
            ours: gone.secondsValue * 1e3, peer: nil, ratio: nil, goal: "<= 1000", unit: "ms")
    }

    private func isRunning(_ pid: Int32) -> Bool {
        guard let stat = ProcFS.lines("/proc/\(pid)/stat").first, let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Mutated valid frames and random bytes through the decoder: every input ends in messages or a typed error.
    private func fuzz(inputs: Int) {
        var generator = SystemRandomNumberGenerator()
        let seeds = WireFuzzing.seeds
        var typedErrors = 0
        var decoded = 0
        let start = ContinuousClock.now
        for index in 0..<inputs {
            var bytes: [UInt8]
            switch index % 4 {
            case 0:
                bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            default:
                bytes = (0..<Int.random(in: 1...3, using: &generator)).flatMap { _ in seeds.randomElement(using: &generator)! }
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let position = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0...3, using: &generator) {
                    case 0: bytes[position] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
                    case 1: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                    case 2: bytes.removeLast(Int.random(in: 0...(bytes.count - position - 1), using: &generator))
                    default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                    }
                    if bytes.isEmpty { break }
                }
            }
            let result = WireFuzzing.decode(bytes)
            if result.error != nil { typedErrors += 1 } else { decoded += 1 }
        }
        let elapsed = ContinuousClock.now - start
        Report.line([
            ("suite", .string("chaos")), ("figure", .string("fuzz")), ("inputs", .int(inputs)), ("typedErrors", .int(typedErrors)),
            ("wholeStreams", .int(decoded)), ("crashes", .int(0)), ("seconds", .number(elapsed.secondsValue))
        ])
        Report.summary(
            suite: "chaos", figure: "wire decoder fuzzed with \(inputs) inputs: crashes (\(typedErrors) typed errors, \(decoded) whole streams)",
            ours: 0, peer: nil, ratio: nil, goal: "0 crashes, every bad frame a typed error", unit: "crashes")
    }

    func writeFile(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw BenchmarkError("cannot write \(path)") }
        _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}

final class KillCounter: Sendable {
    let count = Atomic<Int>(0)
}
