/// Why the pool asked a running job to stop.
enum StopReason: Sendable {
    case timeout
    case cancelled
    case preempted
    case shutdown
}

/// A job the pool holds, from submit to its end.
///
/// `@unchecked Sendable`: a record is touched under one lock at a time — the inbox's from
/// `submit` until it is drained, the pool's main lock after that.
final class JobRecord: QueueableJob, @unchecked Sendable {
    var job: Job
    let handle: JobTicket
    let handler: AnyJobHandler
    let lane: QueueLane
    let metrics: KindMetrics
    /// Attempts started and counted (a preempted attempt is given back).
    var attempts = 0
    let submittedAt: ContinuousClock.Instant
    /// When the job last became ready.
    var readySince: ContinuousClock.Instant
    var startedAt: ContinuousClock.Instant?
    var deadline: ContinuousClock.Instant?
    var worker: WorkerID?
    var workerPID: Int32?
    var stopReason: StopReason?
    var graceDeadline: ContinuousClock.Instant?
    /// The job already ignored a preemption; it is not asked again.
    var refusedPreemption = false
    /// The job has its outcome: it must not end again.
    var hasEnded = false
    var lastWait: Duration = .zero
    var lastRun: Duration = .zero

    var id: JobID { job.id }
    var priority: Priority { job.priority }

    init(job: Job, handle: JobTicket, handler: AnyJobHandler, lane: QueueLane, metrics: KindMetrics, now: ContinuousClock.Instant) {
        self.job = job
        self.attempts = job.priorAttempts
        self.handle = handle
        self.handler = handler
        self.lane = lane
        self.metrics = metrics
        self.submittedAt = now
        self.readySince = max(job.runAt ?? now, now)
    }

    var info: JobInfo {
        JobInfo(id: job.id, kind: job.kind, priority: job.priority, requiredCapabilities: job.requiredCapabilities)
    }

    func outcome(status: JobStatus, result: JobResult? = nil, error: OffloadError? = nil, now: ContinuousClock.Instant) -> JobOutcome {
        JobOutcome(
            id: job.id, kind: job.kind, priority: job.priority, status: status, attempts: attempts, worker: worker, workerPID: workerPID,
            waitTime: lastWait, queueTime: (startedAt ?? now) - submittedAt, runTime: lastRun, result: result, error: error)
    }
}
