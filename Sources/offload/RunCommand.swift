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
            "timeoutMs":…,"maxRetries":…,"retryBackoff":{…},"capabilities":[…],"tags":[…],"dependsOn":[ids],
            "onDependencyFailure":"cancel|run","payload":{…}}; only "kind" is required. A line may depend on earlier lines' ids.
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

    @OptionGroup var poolOptions: PoolOptions

    @OptionGroup var jobFile: JobFileOptions

    @Option(name: .long, help: "The folder for results.jsonl and job outputs.")
    var out: String = "./out"

    @Option(name: .long, help: "Stream pool events as JSON Lines to a file, or '-' for standard output.")
    var events: String?

    @Flag(name: .long, help: "Exit with status 3 when some job did not complete.")
    var strict = false

    @Flag(name: .long, help: "Never draw the progress line, even on a terminal.")
    var quiet = false

    func run() async throws {
        let lines: LineReader
        do { lines = try LineReader(path: file, maxLineBytes: jobFile.maxLineBytes) } catch {
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

        // Job outputs in a folder of their own: no job id can name results.jsonl.
        let pool: WorkerPool
        do { pool = try poolOptions.makePool(files: output.files, roots: [folder(of: file), "."]) } catch let error as OffloadError {
            throw fail("offload: \(error.message).")
        }
        let showProgress = !quiet && isatty(STDERR_FILENO) == 1
        let summaryToStandardError = events == "-"
        let runner = JobFileRunner(
            pool: pool, lines: lines, results: output.results, events: eventSink,
            maxDelay: .milliseconds(jobFile.maxDelayMs), limits: pool.configuration.limits)
        let report = try await runner.run(progress: showProgress ? ProgressLine() : nil)
        let summary = report.summary()
        if summaryToStandardError {
            FileSink.standardError.write(Array(summary.utf8))
        } else {
            print(summary, terminator: "")
        }
        if let readError = report.readError {
            throw fail(
                "offload: cannot read job file '\(file)' past line \(readError.line - 1): \(SystemError(code: readError.code).reason); the \(report.total) jobs before it ran, the rest of the file did not."
            )
        }
        if strict && report.counts[.completed, default: 0] < report.total { throw ExitCode(3) }
    }

}

/// Prints one sentence on standard error; the command then exits with status 1.
func fail(_ sentence: String) -> ExitCode {
    FileSink.standardError.write(Array((sentence + "\n").utf8))
    FileSink.standardError.flush()
    return ExitCode(1)
}
