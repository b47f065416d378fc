import ArgumentParser
import Foundation
import Offload
import OffloadJobFiles
import OffloadPostgres

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit the jobs of a JSON Lines file to a PostgreSQL queue.",
        discussion: """
            The job lines of `offload run`. Each job gets a UUID v7 in the queue; a line's own "id" names it in what this prints.
            Prints one line per job, {"id":LINE-ID,"jobId":QUEUE-ID}. With --wait, waits for every job (woken by the queue's
            notifications) and writes OUT/results.jsonl as `offload run` does instead.
            """
    )

    @Argument(help: "The job file (JSON Lines).", completion: .file())
    var file: String

    @OptionGroup var queueOptions: QueueOptions
    @OptionGroup var jobFile: JobFileOptions

    @Flag(name: .long, help: "Wait for every job and write OUT/results.jsonl.")
    var wait = false

    @Option(name: .long, help: "With --wait, the folder for results.jsonl.")
    var out: String = "./out"

    /// Jobs per statement.
    static let batch = 500

    func run() async throws {
        let lines: LineReader
        do { lines = try LineReader(path: file, maxLineBytes: jobFile.maxLineBytes) } catch {
            throw fail("offload: cannot read job file '\(file)': \(error.reason).")
        }
        var output: OutputFolder?
        if wait {
            do { output = try OutputFolder(path: out) } catch {
                throw fail("offload: cannot write results to '\(out)': \(error.reason).")
            }
        }
        // Refusals known before the queue is reached: lines that are not jobs.
        let kinds = Set(HandlerRegistry.offloadCLI(outputDirectory: out, allowedRoots: ["."]).kinds)
        var jobs: [(name: JobID, job: Job, line: Int)] = []
        var refused: [JobOutcome] = []
        var entries = JobFileReader(lines: lines, kinds: kinds, maxDelay: .milliseconds(jobFile.maxDelayMs))
        while let entry = entries.next() {
            switch entry {
            case .job(var job, let line, _):
                let name = job.id
                job.id = JobID.generate()
                jobs.append((name, job, line))
            case .refused(let outcome):
                refused.append(outcome)
            case .unreadable(let line, let code):
                throw fail("offload: cannot read job file '\(file)' past line \(line - 1): \(SystemError(code: code).reason); nothing was submitted.")
            }
        }
        // A line names the lines it depends on by their ids, which the queue gives new ones.
        let renamed = Dictionary(jobs.map { ($0.name, $0.job.id) }, uniquingKeysWith: { first, _ in first })
        for index in jobs.indices where !jobs[index].job.dependsOn.isEmpty {
            jobs[index].job.dependsOn = jobs[index].job.dependsOn.map { renamed[$0] ?? $0 }
        }
        // Each line alone: one the queue cannot hold fails as its own result, and the rest go in.
        let read = jobs
        let answers = try await queueOptions.withQueue { queue -> [Result<JobID, OffloadError>] in
            var answers: [Result<JobID, OffloadError>] = []
            let hosts = try await queue.servingHosts()
            if hosts.isEmpty && !read.isEmpty {
                FileSink.standardError.write(Array("offload: no host is serving the queue now; the jobs wait for one (offload worker).\n".utf8))
            }
            for start in stride(from: 0, to: read.count, by: Self.batch) {
                let slice = read[start..<min(start + Self.batch, read.count)]
                var checked: [(index: Int, submission: PostgresQueue.Submission)] = []
                var batch = Array(repeating: Result<JobID, OffloadError>.failure(OffloadError(.cancelled, "")), count: slice.count)
                for (offset, line) in slice.enumerated() {
                    let submission = PostgresQueue.Submission(line.job)
                    do throws(OffloadError) {
                        try queue.check(submission)
                        try PostgresQueue.checkServed(line.job, by: hosts)
                        checked.append((offset, submission))
                    } catch {
                        batch[offset] = .failure(error)
                    }
                }
                let written = try await splittingRefusals(checked[...]) { try await queue.submit($0.map(\.submission)) }
                for (entry, result) in zip(checked, written) { batch[entry.index] = result }
                answers += batch
            }
            return answers
        }
        var accepted: [(name: JobID, job: Job)] = []
        var queued: [JobID] = []
        for (line, answer) in zip(read, answers) {
            switch answer {
            case .success(let id):
                accepted.append((line.name, line.job))
                queued.append(id)
            case .failure(let error):
                refused.append(
                    JobOutcome(
                        id: line.name, kind: line.job.kind, status: .failed,
                        error: OffloadError(error.code, "line \(line.line): \(error.message)")))
            }
        }
        let (submitted, ids) = (accepted, queued)
        guard let output else {
            for (entry, id) in zip(submitted, ids) {
                print(JSONWriter.string(["id": .string(entry.name.rawValue), "jobId": .string(id.rawValue)]))
            }
            for outcome in refused { FileSink.standardError.write(ResultLine.encode(outcome) + [0x0A]) }
            FileSink.standardError.write(
                Array(
                    "offload: submitted \(ids.count) jobs to \(queueOptions.place)\(refused.isEmpty ? "" : "; \(refused.count) lines refused (above)").\n"
                        .utf8))
            return
        }
        for outcome in refused { output.results.write(ResultLine.encode(outcome) + [0x0A]) }
        output.results.flush()
        var counts: [JobStatus: Int] = [.failed: refused.count]
        let results = output.results
        let finished = try await queueOptions.withQueue(timeout: nil) { queue -> [JobStatus: Int] in
            var counts: [JobStatus: Int] = [:]
            for (entry, id) in zip(submitted, ids) {
                let job = try await queue.finished(id)
                let outcome = job.outcome(named: entry.name)
                results.write(ResultLine.encode(outcome) + [0x0A])
                results.flush()
                counts[outcome.status, default: 0] += 1
            }
            return counts
        }
        counts.merge(finished, uniquingKeysWith: +)
        print(
            "offload: \(ids.count + refused.count) jobs: " + JobStatus.allCases.map { "\(counts[$0, default: 0]) \($0)" }.joined(separator: ", ")
                + "; results in \(out)/results.jsonl.")
    }
}

extension StoredJob {
    /// The job's end as `offload run` reports one, under the name its job line gave it.
    func outcome(named name: JobID) -> JobOutcome {
        let status: JobStatus =
            switch state {
            case .completed: .completed
            case .cancelled: .cancelled
            default: .failed
            }
        func between(_ start: Date?, _ end: Date?) -> Duration {
            guard let start, let end else { return .zero }
            return .milliseconds(max(end.timeIntervalSince(start), 0) * 1_000)
        }
        return JobOutcome(
            id: name, kind: kind, priority: priority, status: status, attempts: attempt,
            waitTime: between(runAt, startedAt), queueTime: between(createdAt, startedAt),
            runTime: between(startedAt, finishedAt), result: result.map { .json($0) }, error: error)
    }
}
