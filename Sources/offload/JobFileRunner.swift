import Offload
import OffloadJobFiles

/// Reads a job file, submits its jobs to a pool, and writes each outcome as it arrives.
struct JobFileRunner {
    let pool: WorkerPool
    let lines: LineReader
    let results: FileSink
    let events: FileSink?
    /// The furthest a job line may put its job off.
    let maxDelay: Duration
    /// The budgets: payloads and results larger than `maxMessageBytes` are refused.
    let limits: ResourceLimits

    struct Report {
        var total = 0
        /// The line the file could not be read at, and why (`errno`).
        var readError: (line: Int, code: Int32)?
        var counts: [JobStatus: Int] = [:]
        var waits: [Duration] = []
        var runs: [Duration] = []
        var elapsed: Duration = .zero

        mutating func add(_ outcome: JobOutcome) {
            counts[outcome.status, default: 0] += 1
            if outcome.attempts > 0 {
                waits.append(outcome.waitTime)
                runs.append(outcome.runTime)
            }
        }

        func summary() -> String { SummaryTable(report: self).text }
    }

    func run(progress: ProgressLine?) async throws -> Report {
        let start = ContinuousClock.now
        let pool = self.pool
        let stream = pool.events()
        return try await withThrowingTaskGroup(of: Report?.self) { group in
            group.addTask {
                try await pool.run()
                return nil
            }
            // Hold jobs until the whole file is queued, so that priorities decide the order.
            pool.pause()
            var report = Report()
            var handles: [JobHandle<JSONValue>] = []
            var seen: [JobID: Int] = [:]
            var entries = JobFileReader(lines: lines, kinds: Set(pool.registry.kinds), maxDelay: maxDelay)
            while let entry = entries.next() {
                switch entry {
                case .unreadable(let line, let code):
                    report.readError = (line, code)
                case .refused(let outcome):
                    report.total += 1
                    write(outcome, into: &report)
                case .job(let job, let number, let bytes):
                    report.total += 1
                    // A payload too large for a worker process is refused in either isolation, the same way.
                    if bytes > limits.maxMessageBytes, let payload = try? job.payload.json() {
                        do throws(OffloadError) { try limits.checkPayload(bytes: JSONWriter.size(of: payload)) } catch {
                            write(JobOutcome(id: job.id, kind: job.kind, priority: job.priority, status: .failed, error: error), into: &report)
                            continue
                        }
                    }
                    if let first = seen[job.id] {
                        let error = OffloadError(.invalidPayload, "line \(number): duplicate id '\(job.id)' (first on line \(first))")
                        write(JobOutcome(id: job.id, kind: job.kind, priority: job.priority, status: .failed, error: error), into: &report)
                        continue
                    }
                    seen[job.id] = number
                    do throws(OffloadError) {
                        handles.append(try await pool.submit(job))
                    } catch {
                        write(JobOutcome(id: job.id, kind: job.kind, priority: job.priority, status: .failed, error: error), into: &report)
                    }
                }
            }
            pool.resume()
            var pending = handles.count
            progress?.draw(done: report.total - pending, total: report.total, failed: report.failures, elapsed: .zero)
            var lastDraw = ContinuousClock.now
            if pending > 0 {
                for await event in stream {
                    // Lines are flushed as they are written, so that a host killed mid-run loses none.
                    if let events {
                        events.write(ResultLine.encode(event) + [0x0A])
                        events.flush()
                    }
                    guard let outcome = event.outcome else { continue }
                    write(outcome, into: &report)
                    results.flush()
                    pending -= 1
                    if let progress, ContinuousClock.now - lastDraw > .milliseconds(100) || pending == 0 {
                        lastDraw = .now
                        progress.draw(done: report.total - pending, total: report.total, failed: report.failures, elapsed: .now - start)
                    }
                    if pending == 0 { break }
                }
            }
            progress?.finish()
            await pool.shutdown()
            try await group.waitForAll()
            results.flush()
            events?.flush()
            report.elapsed = .now - start
            return report
        }
    }

    private func write(_ outcome: JobOutcome, into report: inout Report) {
        let outcome = ResultLine.bounded(outcome, limits: limits)
        results.write(ResultLine.encode(outcome) + [0x0A])
        report.add(outcome)
    }
}

extension JobFileRunner.Report {
    var failures: Int { total == 0 ? 0 : counts[.failed, default: 0] + counts[.cancelled, default: 0] }
}
