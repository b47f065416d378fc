/// A snapshot of a pool's counters and timings.
public struct PoolMetrics: Sendable {
    /// Jobs accepted by `submit`.
    public var submitted: Int = 0
    /// Jobs that completed.
    public var completed: Int = 0
    /// Jobs that failed for good.
    public var failed: Int = 0
    /// Jobs that were cancelled.
    public var cancelled: Int = 0
    /// Attempts that failed and were tried again.
    public var retried: Int = 0
    /// Attempts that ran past their timeout.
    public var timedOut: Int = 0
    /// Jobs put back in the queue to make way for critical work.
    public var preempted: Int = 0
    /// Ready time before an attempt started, p50 and p99.
    public var waitP50: Duration = .zero
    public var waitP99: Duration = .zero
    /// Run time of attempts, p50 and p99.
    public var runP50: Duration = .zero
    public var runP99: Duration = .zero
    /// Workers, and how many are running a job.
    public var workers: Int = 0
    public var busyWorkers: Int = 0
    /// Busy workers ÷ workers, now.
    public var utilisation: Double = 0
    /// Ready jobs by priority.
    public var queued: [Priority: Int] = [:]
    /// Jobs waiting for their run-at time (delays and retry backoff).
    public var delayed: Int = 0
    /// Jobs running.
    public var running: Int = 0
    /// Per worker.
    public var perWorker: [WorkerInfo] = []

    /// Ready jobs of every priority.
    public var queueLength: Int { queued.values.reduce(0, +) }
}
