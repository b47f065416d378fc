import ArgumentParser
import Offload
import OffloadJobFiles

#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the jobs of a JSON Lines file and write OUT/results.jsonl.",
        discussion: """
            Each line is a job: {"id":…,"kind":…,"priority":"critical|high|normal|low","delayMs":…,"runAt":…,
            "timeoutMs":…,"maxRetries":…,"retryBackoff":{…},"capabilities":[…],"payload":{…}}; only "kind" is required.
            A line that is not a valid job ends "failed" (invalidPayload or unknownKind) and the others still run.
            Kinds: image {params:{title,…},outputFormat,quality,dimensions,background,filters,animations} (writes OUT/files/<id>.<ext>),
            data {input:[…]|{path},pipeline:[{op:filter|transform|group|aggregate|sort|limit|select,…}],onBadRecord},
            analytics {events:[…]|{path},filter,enrich,privacy,salt,aggregate:{groupBy,granularity,metrics}},
            debug.echo, debug.sleep {ms}, debug.spin {ms}, debug.fail {times}, debug.hang, debug.alloc {mb}, debug.crash.
            Jobs from a file are untrusted: by default they run in worker processes of at most 1024 MiB each, with a
            60 s timeout unless a job sets its own, and under per-job budgets (--limit NAME=VALUE; names: \(ResourceLimits.names.joined(separator: ", "))).
            Exit status: 0 when every job has a result line (whatever its status), 1 when the run could not happen or the
            job file could not be read to its end, 3 with --strict when some job did not complete.
            """
    )

    @Argument(help: "The job file (JSON Lines).", completion: .file())
    var file: String

    @Option(name: .long, help: "A fixed number of workers (sets both --min-workers and --max-workers).")
    var workers: Int?

    @Option(name: .long, help: "Workers kept when idle (default 1).")
    var minWorkers: Int?

    @Option(name: .long, help: "Workers at most (default: the number of CPUs).")
    var maxWorkers: Int?

    @Option(name: .long, help: "Scheduling policy: \(SchedulingPolicies.names.joined(separator: ", ")).")
    var policy: String = "priority"

    @Option(name: .long, help: "Where workers run: process (a crash, hang or memory blow-up ends one worker, never the host) or thread (cheaper; for trusted job files).")
    var isolation: String = "process"

    @Option(name: .long, help: "Process isolation: the most memory one worker may use, in MiB; 0 for no limit (default \(RunCommand.defaultMemoryLimit)).")
    var memoryLimit: Int?

    @Option(name: .long, help: "The timeout of a job that sets no timeoutMs, in milliseconds; 0 for none.")
    var timeoutMs: Int = 60_000

    @Option(name: .long, help: "The furthest delayMs or runAt may put a job off, in milliseconds.")
    var maxDelayMs: Int = 86_400_000

    @Option(name: .long, help: "The longest job line read, in bytes; a longer line fails its job and the file goes on.")
    var maxLineBytes: Int = 16 << 20

    @Option(name: .long, help: ArgumentHelp("A per-job budget, NAME=VALUE (repeatable): \(ResourceLimits.names.joined(separator: ", ")).", valueName: "name=value"))
    var limit: [String] = []

    @Option(name: .long, help: "Process isolation: milliseconds without a heartbeat after which a worker is killed and replaced (default 5000).")
    var heartbeatTimeout: Int?

    @Option(name: .long, help: "Replace a worker after it has run this many jobs.")
    var maxJobsPerWorker: Int?

    @Option(name: .long, help: "Process isolation: jobs one worker holds at once, the running one included (default 1).")
    var prefetch: Int?

    @Option(name: .long, help: "A folder jobs may read files from, besides the job file's folder and the working directory (repeatable).", completion: .directory)
    var allowRoot: [String] = []

    @Option(name: .long, help: "Process isolation: the worker executable (default: this one, re-run in worker mode).", completion: .file())
    var workerExecutable: String?

    @Option(name: .long, help: "The folder of plugins (a subfolder with plugin.json each) that plugin jobs use.", completion: .directory)
    var plugins = "plugins"

    @Option(name: .long, help: "The folder for results.jsonl and job outputs.")
    var out: String = "./out"

    @Option(name: .long, help: "Stream pool events as JSON Lines to a file, or '-' for standard output.")
    var events: String?

    @Option(name: .long, help: "Milliseconds of waiting that raise a queued job by one priority level (0 turns aging off).")
    var agingMs: Double = 10_000

    @Flag(name: .long, help: "Exit with status 3 when some job did not complete.")
    var strict = false

    @Flag(name: .long, help: "Never draw the progress line, even on a terminal.")
    var quiet = false

    @Flag(name: .long, help: "Copy what worker processes print (a crash's full trace included) to standard error; without it a crash is one line in its result.")
    var verbose = false

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
        if maxDelayMs < 0 { throw ValidationError("--max-delay-ms must be zero or more") }
        if maxLineBytes < 1024 { throw ValidationError("--max-line-bytes must be at least 1024") }
        _ = try limits()
        if let heartbeatTimeout, heartbeatTimeout < 10 { throw ValidationError("--heartbeat-timeout must be at least 10 (ms)") }
        if let maxJobsPerWorker, maxJobsPerWorker < 1 { throw ValidationError("--max-jobs-per-worker must be at least 1") }
        if let prefetch, !(1...1024).contains(prefetch) { throw ValidationError("--prefetch must be between 1 and 1024") }
        if isolation != Isolation.process.name {
            for (flag, given) in [("--memory-limit", memoryLimit != nil), ("--heartbeat-timeout", heartbeatTimeout != nil),
                                  ("--prefetch", prefetch != nil), ("--worker-executable", workerExecutable != nil)] where given {
                throw ValidationError("\(flag) needs --isolation process")
            }
        }
    }

    static let defaultMemoryLimit = 1024

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

    func run() async throws {
        let lines: LineReader
        do { lines = try LineReader(path: file, maxLineBytes: maxLineBytes) } catch {
            throw fail("offload: cannot read job file '\(file)': \(error.reason).")
        }
        let output: OutputFolder
        do { output = try OutputFolder(path: out) } catch {
            throw fail("offload: cannot write results to '\(out)': \(error.reason).")
        }
        var eventSink: FileSink?
        if let events {
            do { eventSink = events == "-" ? FileSink.standardOutput : try FileSink(path: events) } catch {
                throw fail("offload: cannot write events to '\(events)': \(error.reason).")
            }
        }

        var configuration = PoolConfiguration()
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
        configuration.workerProcess.executable = workerExecutable
        let megabytes = memoryLimit ?? Self.defaultMemoryLimit
        configuration.workerProcess.memoryLimit = megabytes > 0 ? megabytes << 20 : nil
        if let heartbeatTimeout {
            configuration.workerProcess.heartbeatTimeout = .milliseconds(heartbeatTimeout)
            configuration.workerProcess.heartbeatInterval = min(configuration.workerProcess.heartbeatInterval, .milliseconds(heartbeatTimeout) / 4)
        }
        if let prefetch { configuration.workerProcess.prefetch = prefetch }
        configuration.workerProcess.forwardsOutput = verbose
        let roots = [folder(of: file), "."] + allowRoot
        // Job outputs in a folder of their own: no job id can name results.jsonl.
        let files = output.files
        configuration.workerProcess.environment.merge(HandlerRegistry.workerEnvironment(outputDirectory: files, allowedRoots: roots, plugins: plugins)) { $1 }
        let pool: WorkerPool
        do { pool = try WorkerPool(configuration: configuration, registry: .offloadCLI(outputDirectory: files, allowedRoots: roots, plugins: plugins)) } catch {
            throw fail("offload: \(error.message).")
        }
        let showProgress = !quiet && isatty(STDERR_FILENO) == 1
        let summaryToStandardError = events == "-"
        let runner = JobFileRunner(pool: pool, lines: lines, results: output.results, events: eventSink,
                                   maxDelay: .milliseconds(maxDelayMs), limits: configuration.limits)
        let report = try await runner.run(progress: showProgress ? ProgressLine() : nil)
        let summary = report.summary()
        if summaryToStandardError {
            FileSink.standardError.write(Array(summary.utf8))
        } else {
            print(summary, terminator: "")
        }
        if let readError = report.readError {
            throw fail("offload: cannot read job file '\(file)' past line \(readError.line - 1): \(SystemError(code: readError.code).reason); the \(report.total) jobs before it ran, the rest of the file did not.")
        }
        if strict && report.counts[.completed, default: 0] < report.total { throw ExitCode(3) }
    }

    /// Prints one sentence on standard error; the command then exits with status 1.
    private func fail(_ sentence: String) -> ExitCode {
        FileSink.standardError.write(Array((sentence + "\n").utf8))
        FileSink.standardError.flush()
        return ExitCode(1)
    }
}
