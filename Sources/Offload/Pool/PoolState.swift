import DequeModule
import Synchronization

/// The pool's whole mutable state: a state machine whose methods take the time and return the
/// effects to perform once the lock is released. Held in one `Mutex` by ``WorkerPool``.
struct PoolState {
    enum Phase: Equatable {
        case running
        /// Taking no new jobs; queued and running ones may finish until the deadline.
        case draining(deadline: ContinuousClock.Instant, expired: Bool)
        /// No job left; waiting for workers to exit.
        case stopping
        case stopped
    }

    let configuration: PoolConfiguration
    var policy: any SchedulingPolicy
    let origin: ContinuousClock.Instant
    let makeWorker: @Sendable (WorkerID, Set<String>) -> any Worker
    /// Capability profiles; never empty.
    let profiles: [Set<String>]
    var scaler: Scaler
    let inbox: SubmissionInbox
    var queue: JobQueue<JobRecord>
    var records: [JobID: JobRecord] = [:]
    var workers: [WorkerSlot] = []
    var nextWorkerNumber = 0
    var phase: Phase = .running
    var isStarted = false
    var isPaused = false
    var eventsOn = false
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
        makeWorker: @escaping @Sendable (WorkerID, Set<String>) -> any Worker
    ) {
        self.configuration = configuration
        self.policy = configuration.policy
        self.origin = now
        self.makeWorker = makeWorker
        self.profiles = configuration.workerProfiles.isEmpty ? [Set(kinds)] : configuration.workerProfiles
        self.scaler = Scaler(configuration: configuration.scaling)
        self.inbox = inbox
        self.queue = JobQueue(ordering: configuration.policy.ordering, agingInterval: configuration.agingInterval, epoch: now)
        self.nextScaleCheck = now
        self.supervisorWakeAt = now
    }

    // MARK: - Helpers

    func event(_ type: PoolEvent.MessageType, _ now: ContinuousClock.Instant) -> PoolEvent {
        PoolEvent(type: type, time: now - origin)
    }

    func jobEvent(_ type: PoolEvent.MessageType, _ record: JobRecord, _ now: ContinuousClock.Instant) -> PoolEvent {
        var event = event(type, now)
        event.job = record.id
        event.kind = record.job.kind
        event.priority = record.job.priority
        event.attempt = record.attempts
        event.worker = record.worker
        event.pid = record.workerPID
        return event
    }

    func slotIndex(_ id: WorkerID) -> Int? { workers.firstIndex(where: { $0.id == id }) }

    /// The lane a job waits in: its required capabilities, plus its kind when the policy wants
    /// workers to declare kinds.
    static func lane(for job: Job, policy: any SchedulingPolicy) -> QueueLane {
        .requiring(policy.requiresDeclaredKind ? job.requiredCapabilities.union([job.kind]) : job.requiredCapabilities)
    }

    /// Whether some profile's workers can take jobs of `lane`.
    func isServable(_ lane: QueueLane) -> Bool { profiles.contains(where: lane.isServed) }

    mutating func requestWake(at instant: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        if instant < supervisorWakeAt {
            supervisorWakeAt = instant
            effects.wakeSupervisor = true
        }
    }

    var acceptsJobs: Bool { phase == .running }

    var isFull: Bool {
        guard let capacity = configuration.capacity else { return false }
        return inbox.backlog.load(ordering: .relaxed) >= capacity
    }

    // MARK: - Workers

    /// Starts a worker with the profile that has the fewest workers (or `profile`).
    mutating func spawnWorker(profile requested: Int? = nil, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        let live = workers.filter { !$0.stopping }
        let profile = requested ?? profiles.indices.min(by: { a, b in
            live.filter { $0.profile == a }.count < live.filter { $0.profile == b }.count
        })!
        nextWorkerNumber += 1
        let id = WorkerID("w\(nextWorkerNumber)")
        let worker = makeWorker(id, profiles[profile])
        workers.append(WorkerSlot(worker: worker, profile: profile, capabilities: profiles[profile], startedAt: now, idleSince: now))
        effects.starts.append(worker)
        if eventsOn {
            var started = event(.initialize, now)
            started.worker = id
            effects.events.append(started)
        }
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
        if eventsOn {
            var ready = event(.workerReady, now)
            ready.worker = id
            ready.pid = workers[index].worker.pid
            effects.events.append(ready)
        }
        if workers[index].stopping || phase == .stopping || phase == .stopped {
            effects.stops.append(workers[index].worker)
        } else {
            dispatch(now: now, &effects)
        }
        return effects
    }

    mutating func workerExited(_ id: WorkerID, now: ContinuousClock.Instant) -> PoolEffects {
        var effects = PoolEffects()
        guard let index = slotIndex(id) else { return effects }
        let slot = workers.remove(at: index)
        if eventsOn {
            var ended = event(.terminate, now)
            ended.worker = id
            ended.pid = slot.worker.pid
            effects.events.append(ended)
        }
        if let record = slot.running {
            // A worker that exits mid-job (a process worker that died) gives its job back.
            record.lastRun = now - (record.startedAt ?? now)
            failOrRetry(record, OffloadError(.workerCrashed, "worker \(id) exited while running the job"), now: now, &effects)
        }
        replaceIfNeeded(now: now, &effects)
        finishStoppingIfDone(now: now, &effects)
        return effects
    }

    /// Keeps the minimum number of workers while the pool runs.
    mutating func replaceIfNeeded(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard isStarted, phase == .running || !records.isEmpty, phase != .stopping, phase != .stopped else { return }
        let live = workers.filter { !$0.stopping }
        for profile in profiles.indices where !live.contains(where: { $0.profile == profile }) {
            spawnWorker(profile: profile, now: now, &effects)
        }
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
        metrics.busyWorkers = live.filter { $0.running != nil }.count
        metrics.utilisation = live.isEmpty ? 0 : Double(metrics.busyWorkers) / Double(live.count)
        metrics.queued = Dictionary(uniqueKeysWithValues: Priority.allCases.map { ($0, queue.readyCount(of: $0)) })
        metrics.delayed = queue.delayedCount
        metrics.running = workers.filter { $0.running != nil }.count
        metrics.perWorker = workers.map(\.info)
        return metrics
    }
}

extension PoolState {
    /// Queue lengths by priority and the number of workers, for the gauges.
    var gaugeReadings: MetricsRecorder.Readings {
        MetricsRecorder.Readings(queued: Priority.allCases.map { queue.readyCount(of: $0) }, workers: workers.count)
    }
}
