import ArgumentParser
import Offload

/// The options of the pool `offload run` and `offload worker` make.
struct PoolOptions: ParsableArguments {
    @Option(name: .long, help: "A fixed number of workers (sets both --min-workers and --max-workers).")
    var workers: Int?

    @Option(name: .long, help: "Workers kept when idle (default 1).")
    var minWorkers: Int?

    @Option(name: .long, help: "Workers at most (default: the number of CPUs).")
    var maxWorkers: Int?

    @Option(name: .long, help: "Scheduling policy: \(SchedulingPolicies.names.joined(separator: ", ")).")
    var policy: String = "priority"

    @Option(
        name: .long,
        help:
            "Where workers run: process (a crash, hang or memory blow-up ends one worker, never the host) or thread (cheaper; for trusted job files)."
    )
    var isolation: String = "process"

    @Option(
        name: .long,
        help: "Process isolation: the most memory one worker may use, in MiB; 0 for no limit (default \(PoolOptions.defaultMemoryLimit)).")
    var memoryLimit: Int?

    @Option(name: .long, help: "The timeout of a job that sets no timeoutMs, in milliseconds; 0 for none.")
    var timeoutMs: Int = 60_000

    @Option(
        name: .long,
        help: ArgumentHelp("A per-job budget, NAME=VALUE (repeatable): \(ResourceLimits.names.joined(separator: ", ")).", valueName: "name=value"))
    var limit: [String] = []

    @Option(name: .long, help: "Process isolation: milliseconds without a heartbeat after which a worker is killed and replaced (default 5000).")
    var heartbeatTimeout: Int?

    @Option(name: .long, help: "Replace a worker after it has run this many jobs.")
    var maxJobsPerWorker: Int?

    @Option(name: .long, help: "Process isolation: jobs one worker holds at once, the running one included (default 1).")
    var prefetch: Int?

    @Option(
        name: .long, help: "A folder jobs may read files from, besides the job file's folder and the working directory (repeatable).",
        completion: .directory)
    var allowRoot: [String] = []

    @Option(name: .long, help: "Process isolation: the worker executable (default: this one, re-run in worker mode).", completion: .file())
    var workerExecutable: String?

    @Option(name: .long, help: "The folder of plugins (a subfolder with plugin.json each) that plugin jobs use.", completion: .directory)
    var plugins = "plugins"

    @Option(name: .long, help: "Milliseconds of waiting that raise a queued job by one priority level (0 turns aging off).")
    var agingMs: Double = 10_000

    @Option(
        name: .long,
        help: "Thread isolation: worker threads left stuck in jobs that ignored their timeout, at most (then no worker starts until one returns).")
    var maxAbandonedThreads: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Jobs of a kind running at once in this pool, at most (on a queue: on this host; `offload kinds limit` sets the queue's). Repeatable.",
            valueName: "kind=n"))
    var maxConcurrent: [String] = []

    @Flag(
        name: .long,
        help: "Copy what worker processes print (a crash's full trace included) to standard error; without it a crash is one line in its result.")
    var verbose = false

    static let defaultMemoryLimit = 1024

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let minWorkers, minWorkers < 0 { throw ValidationError("--min-workers must not be negative") }
        if let maxWorkers, maxWorkers < 1 { throw ValidationError("--max-workers must be at least 1") }
        if workers != nil && (minWorkers != nil || maxWorkers != nil) {
            throw ValidationError("give either --workers or --min-workers/--max-workers, not both")
        }
        if SchedulingPolicies.named(policy) == nil {
            throw ValidationError("unknown policy '\(policy)' (choose from \(SchedulingPolicies.names.joined(separator: ", ")))")
        }
        if Isolation(named: isolation) == nil {
            throw ValidationError("unknown isolation '\(isolation)' (choose thread or process)")
        }
        if !(agingMs >= 0) { throw ValidationError("--aging-ms must be zero or more") }
        if let memoryLimit, memoryLimit != 0 && memoryLimit < 16 { throw ValidationError("--memory-limit must be 0 or at least 16 (MiB)") }
        if timeoutMs < 0 { throw ValidationError("--timeout-ms must be zero or more") }
        _ = try limits()
        _ = try kindLimits()
        if let heartbeatTimeout, heartbeatTimeout < 10 { throw ValidationError("--heartbeat-timeout must be at least 10 (ms)") }
        if let maxJobsPerWorker, maxJobsPerWorker < 1 { throw ValidationError("--max-jobs-per-worker must be at least 1") }
        if let prefetch, !(1...1024).contains(prefetch) { throw ValidationError("--prefetch must be between 1 and 1024") }
        if let maxAbandonedThreads {
            if maxAbandonedThreads < 0 { throw ValidationError("--max-abandoned-threads must be zero or more") }
            if isolation != Isolation.thread.name { throw ValidationError("--max-abandoned-threads needs --isolation thread") }
        }
        if isolation != Isolation.process.name {
            for (flag, given) in [
                ("--memory-limit", memoryLimit != nil), ("--heartbeat-timeout", heartbeatTimeout != nil),
                ("--prefetch", prefetch != nil), ("--worker-executable", workerExecutable != nil)
            ] where given {
                throw ValidationError("\(flag) needs --isolation process")
            }
        }
    }

    /// The budgets `--limit` sets over the defaults.
    func limits() throws -> ResourceLimits {
        var limits = ResourceLimits()
        for entry in limit {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ResourceLimits.names.contains(parts[0]) else {
                throw ValidationError("--limit takes NAME=VALUE with NAME one of \(ResourceLimits.names.joined(separator: ", ")), not '\(entry)'")
            }
            guard let value = Int(parts[1]), value >= 1 else { throw ValidationError("--limit \(parts[0]) must be a whole number of at least 1") }
            limits[parts[0]] = value
        }
        return limits
    }

    /// The limits `--max-concurrent` sets per kind.
    func kindLimits() throws -> [String: KindLimits] {
        var limits: [String: KindLimits] = [:]
        for entry in maxConcurrent {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let count = Int(parts[1]), (1...KindLimits.maxJobs).contains(count) else {
                throw ValidationError("--max-concurrent takes KIND=N with N from 1 to \(KindLimits.maxJobs), not '\(entry)'")
            }
            limits[parts[0]] = KindLimits(maxConcurrent: count)
        }
        return limits
    }

    /// A pool of these options and every kind of `offload`, its job outputs in `files`, reading
    /// files under `roots` (and `--allow-root`); a graceful shutdown lets jobs run for
    /// `drainTimeout` (default 30 s). `diagnostics`: the `debug.*` kinds too.
    func makePool(
        files: String, roots: [String], drainTimeout: Duration? = nil, diagnostics: Bool = true,
        adjust: (inout PoolConfiguration) -> Void = { _ in }
    ) throws -> WorkerPool {
        var configuration = PoolConfiguration()
        if let drainTimeout { configuration.shutdownTimeout = drainTimeout }
        configuration.isolation = Isolation(named: isolation)!
        configuration.policy = SchedulingPolicies.named(policy)!
        configuration.agingInterval = agingMs > 0 ? .microseconds(Int64(agingMs * 1_000)) : nil
        if let workers {
            configuration.scaling = .fixed(workers)
        } else {
            let minimum = minWorkers ?? 1
            configuration.scaling = ScalingConfiguration(minWorkers: minimum, maxWorkers: maxWorkers ?? max(minimum, SystemInfoCLI.cpuCount))
        }
        configuration.maxJobsPerWorker = maxJobsPerWorker
        configuration.defaultTimeout = timeoutMs > 0 ? .milliseconds(timeoutMs) : nil
        configuration.limits = try limits()
        configuration.kindLimits = try kindLimits()
        configuration.workerProcess.executable = workerExecutable
        let megabytes = memoryLimit ?? Self.defaultMemoryLimit
        configuration.workerProcess.memoryLimit = megabytes > 0 ? megabytes << 20 : nil
        if let heartbeatTimeout {
            configuration.workerProcess.heartbeatTimeout = .milliseconds(heartbeatTimeout)
            configuration.workerProcess.heartbeatInterval = min(configuration.workerProcess.heartbeatInterval, .milliseconds(heartbeatTimeout) / 4)
        }
        if let prefetch { configuration.workerProcess.prefetch = prefetch }
        if let maxAbandonedThreads { configuration.maxAbandonedThreads = maxAbandonedThreads }
        configuration.workerProcess.forwardsOutput = verbose
        let roots = roots + allowRoot
        adjust(&configuration)
        configuration.workerProcess.environment.merge(
            HandlerRegistry.workerEnvironment(
                outputDirectory: files, allowedRoots: roots, plugins: plugins,
                diagnostics: diagnostics)
        ) { $1 }
        return try WorkerPool(
            configuration: configuration,
            registry: .offloadCLI(
                outputDirectory: files, allowedRoots: roots, plugins: plugins,
                diagnostics: diagnostics))
    }
}

/// The options of reading a job file (`offload run`, `offload submit`).
struct JobFileOptions: ParsableArguments {
    @Option(name: .long, help: "The furthest delayMs or runAt may put a job off, in milliseconds.")
    var maxDelayMs: Int = 86_400_000

    @Option(name: .long, help: "The longest job line read, in bytes; a longer line fails its job and the file goes on.")
    var maxLineBytes: Int = 16 << 20

    func validate() throws {
        if maxDelayMs < 0 { throw ValidationError("--max-delay-ms must be zero or more") }
        if maxLineBytes < 1024 { throw ValidationError("--max-line-bytes must be at least 1024") }
    }
}
