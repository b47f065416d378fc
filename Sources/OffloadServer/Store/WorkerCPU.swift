public import Offload

/// The workers as the overview shows them, with the CPU each used since the previous sample
/// taken at least half a second before (in percent of one core), from the CPU time their
/// processes report.
public struct WorkerCPU: Sendable {
    private var samples: [WorkerID: (cpuTime: Duration, at: ContinuousClock.Instant, percent: Double?)] = [:]

    public init() {}

    public mutating func workers(_ workers: [WorkerInfo], at now: ContinuousClock.Instant = .now) -> [Overview.Worker] {
        let shown = workers.map { worker in
            var shown = Overview.Worker(
                id: worker.id.rawValue, state: worker.state.rawValue, pid: worker.pid == 0 ? nil : worker.pid,
                jobsCompleted: worker.jobsCompleted, runningKind: worker.runningKind)
            if let usage = worker.resourceUsage {
                shown.residentBytes = usage.residentBytes
                shown.cpuPercent = percent(of: worker.id, cpuTime: usage.cpuTime, at: now)
            }
            return shown
        }
        // Workers that are gone are forgotten.
        let current = Set(workers.map(\.id))
        samples = samples.filter { current.contains($0.key) }
        return shown
    }

    private mutating func percent(of worker: WorkerID, cpuTime: Duration, at now: ContinuousClock.Instant) -> Double? {
        guard let previous = samples[worker] else {
            samples[worker] = (cpuTime, now, nil)
            return nil
        }
        let elapsed = now - previous.at
        guard elapsed >= .milliseconds(500) else { return previous.percent }
        let percent = max(0, (cpuTime - previous.cpuTime) / elapsed * 100)
        samples[worker] = (cpuTime, now, percent)
        return percent
    }
}

extension WorkerCPU {
    /// The workers of a card pool, as the overview names them (`card-w1`…) beside the others.
    public static func cardWorkers(of pool: WorkerPool?) -> [WorkerInfo] {
        (pool?.metrics.perWorker ?? []).map { worker in
            var shown = worker
            shown.id = WorkerID("card-\(worker.id.rawValue)")
            return shown
        }
    }
}
