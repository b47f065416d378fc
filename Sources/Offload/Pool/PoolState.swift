import DequeModule
import Synchronization

/// The pool's whole mutable state: a state machine whose methods take the time and return the
/// effects to perform once the lock is released; its events go to ``events``, which the pool
/// hands to subscribers under the lock. Held behind the main lock by ``WorkerPool`` (see the
/// lock order at the top of WorkerPool.swift); driven without threads by `PoolStateTests`.
struct PoolState {
    enum Phase: Equatable {
        case running
        /// Taking no new jobs; queued and running ones may finish until the deadline.
        case draining(deadline: ContinuousClock.Instant, expired: Bool)
        /// No job left; waiting for workers to exit.
        case stopping
        case stopped

        var isRunning: Bool { if case .running = self { true } else { false } }
        /// Running or draining: jobs are still handed out.
        var handsOutJobs: Bool {
            switch self {
            case .running, .draining: true
            case .stopping, .stopped: false
            }
        }
        var isStopping: Bool { if case .stopping = self { true } else { false } }
        var isStopped: Bool { if case .stopped = self { true } else { false } }
    }

    let configuration: PoolConfiguration
    /// The jobs' spans, when the program traces.
    let tracing: PoolTracing?
    var policy: any SchedulingPolicy
    let origin: ContinuousClock.Instant
    let makeWorker: @Sendable (WorkerID, Set<String>) -> any Worker
    var scaler: Scaler
    let inbox: SubmissionInbox
    var queue: JobQueue<JobRecord>
    /// The workers, a sub-machine of their own.
    var workers: WorkerRoster
    var phase: Phase = .running
    var isStarted = false
    var isPaused = false
    var gate: KindGate
    /// Jobs waiting for others, and the ends a dependent may name.
    var dependencies = DependencyBook()
    /// Ends whose dependents are yet to be released or cancelled (a cancel cascades through
    /// this list, not through recursion).
    var endsToResolve: [(id: JobID, completed: Bool)] = []
    var isResolvingEnds = false
    /// When a kind held back by its rate opens (the supervisor wakes then).
    var kindOpensAt: ContinuousClock.Instant?
    let events = PoolEventLog()
    var capacityWaiters = Deque<CheckedContinuation<Void, Never>>()
    var stopWaiters: [CheckedContinuation<Void, Never>] = []
    var pendingPreemptions = 0
    var nextScaleCheck: ContinuousClock.Instant
    /// When the supervisor plans to wake next; earlier deadlines must wake it.
    var supervisorWakeAt: ContinuousClock.Instant
    var counters = PoolMetrics()
    var waitTimes = LatencyHistogram()
    var runTimes = LatencyHistogram()

    init(
        configuration: PoolConfiguration, kinds: [String], inbox: SubmissionInbox, now: ContinuousClock.Instant,
        tracing: PoolTracing? = nil, makeWorker: @escaping @Sendable (WorkerID, Set<String>) -> any Worker
    ) {
        self.configuration = configuration
        self.tracing = tracing
        self.policy = configuration.policy
        self.origin = now
        self.makeWorker = makeWorker
        self.workers = WorkerRoster(
            profiles: configuration.workerProfiles.isEmpty ? [Set(kinds)] : configuration.workerProfiles,
            maxJobsPerWorker: configuration.maxJobsPerWorker, maxLifetime: configuration.maxLifetime)
        self.scaler = Scaler(configuration: configuration.scaling)
        self.inbox = inbox
        self.queue = JobQueue(ordering: configuration.policy.ordering, agingInterval: configuration.agingInterval, epoch: now)
        self.nextScaleCheck = now
        self.supervisorWakeAt = now
        self.gate = KindGate(configuration.kindLimits)
    }

    // MARK: - Helpers

    /// A job as its events show it, at `now`.
    func jobInfo(_ record: JobRecord, _ now: ContinuousClock.Instant, runAt: ContinuousClock.Instant? = nil) -> JobEventInfo {
        JobEventInfo(
            time: now - origin, job: record.id, kind: record.job.kind, priority: record.job.priority, attempt: record.attempts,
            worker: record.worker, pid: record.workerPID, runAt: runAt.map { $0 - origin })
    }

    /// A worker as its events show it, at `now`.
    func workerInfo(_ id: WorkerID, pid: Int32?, _ now: ContinuousClock.Instant) -> WorkerEventInfo {
        WorkerEventInfo(time: now - origin, worker: id, pid: pid)
    }

    /// Capability profiles; never empty.
    var profiles: [Set<String>] { workers.profiles }

    func slotIndex(_ id: WorkerID) -> Int? { workers.index(of: id) }

    /// The lane a job waits in: its kind's, of its required capabilities (plus its kind when the
    /// policy wants workers to declare kinds).
    static func lane(for job: Job, policy: any SchedulingPolicy) -> QueueLane {
        .requiring(policy.requiresDeclaredKind ? job.requiredCapabilities.union([job.kind]) : job.requiredCapabilities, kind: job.kind)
    }

    mutating func requestWake(at instant: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        if instant < supervisorWakeAt {
            supervisorWakeAt = instant
            effects.wakeSupervisor = true
        }
    }

    var acceptsJobs: Bool { phase.isRunning }

    var isFull: Bool {
        guard let capacity = configuration.capacity else { return false }
        return inbox.backlog.load(ordering: .relaxed) >= capacity
    }

    // MARK: - Workers

    /// Starts a worker with the profile that has the fewest workers (or `profile`).
    mutating func spawnWorker(profile requested: Int? = nil, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        let profile = requested ?? workers.profileToStart
        let id = workers.nextID()
        let worker = makeWorker(id, profiles[profile])
        workers.append(
            WorkerSlot(
                worker: worker, profile: profile, capabilities: profiles[profile],
                capacity: configuration.workerCapacity, startedAt: now))
        effects.starts.append(worker)
        events.emit(.workerStarting(workerInfo(id, pid: nil, now)))
    }

    mutating func start(now: ContinuousClock.Instant) -> PoolEffects {
        var effects = PoolEffects()
        guard !isStarted else { return effects }
        isStarted = true
        drainInbox(now: now, &effects)
        // One worker per profile at least, then up to the minimum.
        for profile in profiles.indices { spawnWorker(profile: profile, now: now, &effects) }
        while workers.count < configuration.scaling.minWorkers { spawnWorker(now: now, &effects) }
        nextScaleCheck = now + configuration.scaling.checkInterval
        return effects
    }

    mutating func workerReady(_ id: WorkerID, now: ContinuousClock.Instant) -> PoolEffects {
        var effects = PoolEffects()
        guard let index = slotIndex(id), workers[index].state == .initializing else { return effects }
        workers[index].state = .idle
        workers[index].idleSince = now
        workers.workerReady()
        events.emit(.workerReady(workerInfo(id, pid: workers[index].worker.pid, now)))
        if workers[index].stopping || !phase.handsOutJobs {
            effects.stops.append(workers[index].worker)
        } else {
            dispatch(now: now, &effects)
        }
        return effects
    }

    /// A worker ended: its running job fails with `cause` (or is retried), jobs it held go back to the queue.
    mutating func workerExited(_ id: WorkerID, cause: OffloadError?, now: ContinuousClock.Instant) -> PoolEffects {
        var effects = PoolEffects()
        guard let index = slotIndex(id) else { return effects }
        let slot = workers.remove(at: index)
        if events.isOn {
            if let cause {
                events.emit(.workerFailed(workerInfo(id, pid: slot.worker.pid, now), job: slot.running?.id, message: cause.message, error: cause))
            }
            events.emit(.workerStopped(workerInfo(id, pid: slot.worker.pid, now)))
        }
        if let record = slot.running {
            record.lastRun = now - (record.startedAt ?? now)
            let error = cause ?? OffloadError(.workerCrashed, "worker \(id) exited while running the job")
            if let reason = record.stopReason {
                endStopped(record, reason: reason, error: error, now: now, &effects)
            } else {
                failOrRetry(record, error, now: now, &effects)
            }
        }
        for record in slot.held { giveBack(record, now: now, &effects) }
        if slot.state == .initializing && !slot.stopping {
            noteStartFailure(cause ?? OffloadError(.workerStartFailed, "worker \(id) ended before it was ready"), now: now, &effects)
        }
        replaceIfNeeded(now: now, &effects)
        // A worker that died unasked is replaced at once while work waits, not at the next scaling check.
        if !slot.stopping && phase.isRunning && queue.readyCount > 0 && workers.respawnAfter == nil
            && workers.filter({ !$0.stopping }).count < configuration.scaling.maxWorkers
        {
            spawnWorker(profile: slot.profile, now: now, &effects)
        }
        finishStoppingIfDone(now: now, &effects)
        return effects
    }

    /// A job a worker held but never started goes back to the queue with its attempt given back
    /// (or ends, when it was being cancelled).
    mutating func giveBack(_ record: JobRecord, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        switch record.stopReason {
        case .cancelled?:
            finalize(record, .cancelled, error: OffloadError(.cancelled, "cancelled by the caller before it started"), now: now, &effects)
        case .shutdown?:
            finalize(record, .cancelled, error: OffloadError(.cancelled, "the pool shut down before the job started"), now: now, &effects)
        case .timeout?, .preempted?, nil:
            record.attempts -= 1
            record.stopReason = nil
            record.graceDeadline = nil
            record.worker = nil
            record.workerPID = nil
            queue.enqueue(record, lane: record.lane, now: now, readySince: record.readySince)
            inbox.backlog.add(1, ordering: .relaxed)
        }
    }

    /// Workers keep failing to start: after three in a row, queued jobs fail with the reason
    /// instead of waiting forever, and replacements back off (0.1 s doubling to 10 s).
    private mutating func noteStartFailure(_ cause: OffloadError, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard let respawnAfter = workers.workerFailedToStart(now: now) else { return }
        requestWake(at: respawnAfter, &effects)
        let error = OffloadError(
            .workerStartFailed,
            "no worker could start (\(workers.startFailuresInRow) attempts in a row); the last: \(cause.message)")
        for record in queue.removeAll(now: now) {
            inbox.backlog.subtract(1, ordering: .relaxed)
            finalize(record, .failed, error: error, now: now, &effects)
        }
    }

    /// Keeps the minimum number of workers while the pool runs.
    mutating func replaceIfNeeded(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard isStarted, phase.isRunning || !inbox.isEmpty, phase.handsOutJobs else { return }
        guard workers.mayStart(now: now) else { return }
        for profile in workers.profilesWithoutWorkers { spawnWorker(profile: profile, now: now, &effects) }
        while workers.filter({ !$0.stopping }).count < configuration.scaling.minWorkers { spawnWorker(now: now, &effects) }
    }

    // MARK: - Snapshot

    func snapshot() -> PoolMetrics {
        var metrics = counters
        metrics.waitP50 = waitTimes.percentile(0.5)
        metrics.waitP99 = waitTimes.percentile(0.99)
        metrics.runP50 = runTimes.percentile(0.5)
        metrics.runP99 = runTimes.percentile(0.99)
        let live = workers.filter { $0.state != .initializing }
        metrics.workers = live.count
        metrics.busyWorkers = live.filter { $0.load > 0 }.count
        metrics.utilisation = live.isEmpty ? 0 : Double(metrics.busyWorkers) / Double(live.count)
        metrics.queued = Dictionary(uniqueKeysWithValues: Priority.allCases.map { ($0, queue.readyCount(of: $0)) })
        metrics.delayed = queue.delayedCount
        metrics.running = workers.filter { $0.running != nil }.count
        metrics.perWorker = workers.map(\.metricsInfo)
        return metrics
    }
}

extension PoolState {
    /// Queue lengths by priority and the number of workers, for the gauges.
    var gaugeReadings: MetricsRecorder.Readings {
        MetricsRecorder.Readings(queued: Priority.allCases.map { queue.readyCount(of: $0) }, workers: workers.count)
    }
}
