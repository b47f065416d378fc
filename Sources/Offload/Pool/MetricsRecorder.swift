import CoreMetrics
import Synchronization

/// The swift-metrics handles of one job kind, made once and kept by each job of the kind.
final class KindMetrics: Sendable {
    let ended: [JobStatus: Counter]
    let retried: Counter
    let duration: CoreMetrics.Timer
    let wait: CoreMetrics.Timer

    init(kind: String) {
        ended = Dictionary(
            uniqueKeysWithValues: JobStatus.allCases.map {
                ($0, Counter(label: "offload.jobs", dimensions: [("kind", kind), ("status", $0.rawValue)]))
            })
        retried = Counter(label: "offload.jobs.retried", dimensions: [("kind", kind)])
        duration = CoreMetrics.Timer(label: "offload.jobs.duration", dimensions: [("kind", kind)])
        wait = CoreMetrics.Timer(label: "offload.jobs.wait", dimensions: [("kind", kind)])
    }

    func recordEnd(status: JobStatus, run: Duration) {
        ended[status]?.increment()
        if status == .completed { duration.recordNanoseconds(run.nanoseconds) }
    }
}

/// Reports the pool to swift-metrics: `offload.jobs` (dimensions `kind`, `status`),
/// `offload.jobs.retried`, `offload.jobs.duration` and `offload.jobs.wait` (by `kind`),
/// `offload.queue.length` (by `pool` and `priority`) and `offload.workers` (by `pool`).
final class MetricsRecorder: Sendable {
    struct Readings: Sendable {
        var queued: [Int]
        var workers: Int
    }

    private let byKind = Mutex<[String: KindMetrics]>([:])
    private let queueLength: [Gauge]
    private let workers: Gauge

    init(pool: String) {
        queueLength = Priority.allCases.map { Gauge(label: "offload.queue.length", dimensions: [("pool", pool), ("priority", $0.name)]) }
        workers = Gauge(label: "offload.workers", dimensions: [("pool", pool)])
    }

    func metrics(for kind: String) -> KindMetrics {
        byKind.withLock { cache in
            if let existing = cache[kind] { return existing }
            let made = KindMetrics(kind: kind)
            cache[kind] = made
            return made
        }
    }

    func recordGauges(_ readings: Readings) {
        for (gauge, length) in zip(queueLength, readings.queued) { gauge.record(length) }
        workers.record(readings.workers)
    }
}
