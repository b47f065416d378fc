import COffloadSystem
import Logging
public import ServiceLifecycle
import Synchronization

// Locks, what they guard, and their order (a lock on the left may be held while taking one on
// its right, never the other way):
//
//   main (PoolState)  →  inbox  ·  event subscribers → each stream  ·  a job's ticket  ·  metrics
//   a process worker's frame writer  →  that worker's state
//
// - main: `state`, a PThreadLocked<PoolState>, and every JobRecord, WorkerSlot and the
//   PoolEventLog reachable from it. Taken by submitters that see a free worker, by workers
//   ending a job, by the supervisor's tick. Effects (deliveries, cancels, stops, resolutions)
//   are performed after it is released, so no worker lock is ever taken under it.
// - inbox: arrivals and the table of live jobs by id (SubmissionInbox). Submitters take it
//   alone; the state takes it under the main lock.
// - event subscribers: taken under the main lock, so that events reach every stream in the
//   order the state made them.
// - worker locks (a thread worker's mailbox, a process worker's state and frame writer) are
//   taken by the worker's own threads and by `perform`, never while the main lock is held; a
//   worker reports to the pool with none of its locks held. A frame writer may block on a full
//   pipe while it holds its own lock (a stalled child: bounded by the stall limit, then killed),
//   never while holding the main lock.

/// A pool of background workers that runs jobs from a priority queue.
///
/// ```swift
/// try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(2)), registry: registry) { pool in
///     let output = try await pool.submit(Resize.self, Resize.Payload(path: "a.png", width: 600)).value
///     print(output.written)
/// }
/// ```
///
/// A pool is a `Service`: run it in a `ServiceGroup` and it drains gracefully on shutdown, or use
/// ``withPool(configuration:registry:_:)``. Jobs submitted before the pool runs wait in the queue.
public final class WorkerPool: Service, Sendable {
    /// The configuration the pool was made with.
    public let configuration: PoolConfiguration
    /// The handlers the pool runs.
    public let registry: HandlerRegistry
    /// When the pool was made: the times of its events count from here
    /// (``PoolEvent/jobEvent(since:)``).
    public let madeAt: Timestamp
    private let state: PThreadLocked<PoolState>
    private let broadcaster = EventBroadcaster()
    private let supervisor = Supervisor()
    private let periodic = PeriodicRunner()
    private let recorder: MetricsRecorder
    private let inbox = SubmissionInbox()
    private let profiles: [Set<String>]
    private let hasRun = Atomic<Bool>(false)
    /// The jobs' spans, when the program traces.
    private let tracing: PoolTracing?

    /// Makes a pool; it starts its workers when ``run()`` is called.
    /// - Throws: ``OffloadError/Code/invalidConfiguration`` for a configuration that cannot work.
    public init(configuration: PoolConfiguration = PoolConfiguration(), registry: HandlerRegistry) throws(OffloadError) {
        try configuration.validate()
        self.configuration = configuration
        self.registry = registry
        recorder = MetricsRecorder(pool: configuration.name)
        madeAt = .now
        let kinds = registry.kinds
        let holder = WorkerFactoryHolder()
        let tracing = PoolTracing(configuration.tracer)
        self.tracing = tracing
        let state = PoolState(
            configuration: configuration, kinds: kinds, inbox: inbox, now: .now, tracing: tracing,
            makeWorker: { id, capabilities in
                holder.make(id, capabilities)
            })
        profiles = state.profiles
        self.state = PThreadLocked(state)
        if let tracing { _ = broadcaster.observe(tracing.observe) }
        if configuration.isolation == .process {
            // A write to a worker that just died must fail with EPIPE, not kill the host.
            offload_ignore_sigpipe()
            let executable = try configuration.workerProcess.resolvedExecutable() ?? ""
            holder.set { [unowned self] id, _ in
                ProcessWorker(
                    id: id, host: self, options: self.configuration.workerProcess, limits: self.configuration.limits,
                    kinds: Set(self.registry.kinds), executable: executable, logger: self.configuration.logger)
            }
        } else {
            let stuck = AbandonedThreads(limit: configuration.maxAbandonedThreads)
            holder.set { [unowned self] id, _ in
                ThreadWorker(id: id, host: self, limits: self.configuration.limits, abandonedThreads: stuck, logger: self.configuration.logger)
            }
        }
    }

    // MARK: - Service

    /// Starts the workers and runs until the pool has shut down: after ``shutdown(timeout:)``,
    /// a graceful shutdown of the service group (draining for `shutdownTimeout`), or cancellation
    /// (stopping at once).
    public func run() async throws {
        guard hasRun.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            throw OffloadError(.shuttingDown, "this pool has already been run; make a new one")
        }
        perform(locked { $0.start(now: .now) })
        supervisor.start { [self] in
            let (effects, next, stopped, gauges) = locked { state in
                let (effects, next) = state.tick(now: .now)
                return (effects, next, state.phase.isStopped, state.gaugeReadings)
            }
            recorder.recordGauges(gauges)
            perform(effects)
            return stopped ? nil : next
        }
        configuration.logger.debug("worker pool started", metadata: ["isolation": "\(configuration.isolation)"])
        let ticks = Task { [periodic] in await periodic.run { job throws(OffloadError) in _ = try await self.submit(job) } }
        defer { ticks.cancel() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await waitUntilStopped()
            } onCancel: {
                self.beginShutdown(timeout: .zero)
            }
        } onGracefulShutdown: {
            self.beginShutdown(timeout: self.configuration.shutdownTimeout)
        }
        configuration.logger.debug("worker pool stopped")
    }

    /// Stops taking jobs, lets queued and running ones finish for up to `timeout` (default: the
    /// configuration's `shutdownTimeout`), cancels what is left, and waits until every worker has ended.
    /// A pool whose ``run()`` has not started yet drains once it starts.
    public func shutdown(timeout: Duration? = nil) async {
        beginShutdown(timeout: timeout ?? configuration.shutdownTimeout)
        await waitUntilStopped()
    }

    /// Runs `body` with a running pool, then shuts the pool down gracefully. `body` runs in the
    /// caller's isolation (the main actor's in a `@main` program), so it may touch the caller's state.
    public static func withPool<T>(
        configuration: PoolConfiguration = PoolConfiguration(),
        registry: HandlerRegistry,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (WorkerPool) async throws -> T
    ) async throws -> T {
        let pool = try WorkerPool(configuration: configuration, registry: registry)
        return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
            group.addTask { try await pool.run() }
            do {
                let result = try await body(pool)
                await pool.shutdown()
                try await group.waitForAll()
                return result
            } catch {
                await pool.shutdown(timeout: .zero)
                try? await group.waitForAll()
                throw error
            }
        }
    }

    // MARK: - Jobs

    /// Queues a job given as a ``Job`` (its kind named by a string, its payload JSON or any
    /// value): the form job files use. Its handle's value is the JSON of the job's output.
    /// A job without a timeout gets the pool's ``PoolConfiguration/defaultTimeout``.
    /// - Returns: a handle to await, watch or cancel the job.
    /// - Throws: ``OffloadError`` — `unknownKind`, `invalidPayload` (the job's fields), `duplicateJob`,
    ///   `noCapableWorker`, `queueFull` (a full queue with `overflow: .fail`) or `shuttingDown`.
    ///   With `overflow: .wait` a full queue makes this call wait for room.
    @discardableResult
    public func submit(_ job: Job) async throws(OffloadError) -> JobHandle<JSONValue> {
        JobHandle(try await enqueue(job))
    }

    /// Queues a job of handler `H`'s kind with a payload of its type; the handle's value is of
    /// its output type.
    ///
    /// ```swift
    /// let handle = try await pool.submit(Resize.self, Resize.Payload(path: "a.png", width: 600), priority: .high)
    /// let output: Resize.Output = try await handle.value
    /// ```
    /// The parameters after the payload are ``Job``'s.
    @discardableResult
    public func submit<H: JobHandler>(
        _ handler: H.Type, _ payload: H.Payload, id: JobID = .generate(), priority: Priority = .normal, timeout: Duration? = nil,
        maxRetries: Int = 0, retryPolicy: RetryPolicy = RetryPolicy(), delay: Duration? = nil, requiredCapabilities: Set<String> = []
    ) async throws(OffloadError) -> JobHandle<H.Output> {
        let job = Job(
            handler, payload, id: id, priority: priority, timeout: timeout, maxRetries: maxRetries, retryPolicy: retryPolicy,
            delay: delay, requiredCapabilities: requiredCapabilities)
        return JobHandle(try await enqueue(job))
    }

    private func enqueue(_ job: Job) async throws(OffloadError) -> JobTicket {
        try job.validate()
        var job = job
        if let tracing { job = PoolTracing.submitted(job, tracer: tracing.tracer) }
        if job.timeout == nil { job.timeout = configuration.defaultTimeout }
        if configuration.ignoresUnknownPayloadKeys && job.payload.isSwiftValue { job.payload.ignoresUnknownKeys = true }
        guard let handler = registry.handler(for: job.kind) else {
            throw OffloadError(.unknownKind, "no handler for kind '\(job.kind)' (known: \(registry.kinds.joined(separator: ", ")))")
        }
        if !job.dependsOn.isEmpty {
            // Checked under the lock that ends jobs: a dependency held now is remembered when it ends.
            let inbox = inbox
            if let unknown = locked({ state in state.dependencies.firstUnknown(of: job) { inbox.contains($0) } }) {
                throw PoolState.unknownDependency(unknown)
            }
        }
        let lane = PoolState.lane(for: job, policy: configuration.policy)
        guard profiles.contains(where: lane.isServed) else {
            throw OffloadError(.noCapableWorker, "no worker declares the capabilities job '\(job.id)' needs (\(lane))")
        }
        while true {
            guard inbox.accepting.load(ordering: .sequentiallyConsistent) else {
                throw OffloadError(.shuttingDown, "the pool is shutting down and takes no new jobs")
            }
            guard let capacity = configuration.capacity, inbox.backlog.load(ordering: .relaxed) >= capacity else { break }
            // A duplicate is refused as such even when the queue is full (`inbox.add` checks the rest).
            guard !inbox.contains(job.id) else {
                throw OffloadError(.duplicateJob, "a job with id '\(job.id)' is already queued or running")
            }
            if configuration.overflow == .fail {
                throw OffloadError(.queueFull, "the queue holds \(capacity) jobs, its capacity")
            }
            await withCheckedContinuation { continuation in
                let admitted = locked { state -> Bool in
                    if !state.isFull || !state.acceptsJobs { return true }
                    state.capacityWaiters.append(continuation)
                    return false
                }
                if admitted { continuation.resume() }
            }
        }
        let handle = JobTicket(id: job.id) { [self] id in cancel(id) }
        let record = JobRecord(
            job: job, handle: handle, handler: handler, lane: lane,
            metrics: recorder.metrics(for: job.kind), now: .now)
        guard inbox.add(record) else {
            throw OffloadError(.duplicateJob, "a job with id '\(job.id)' is already queued or running")
        }
        // A free worker, a run-at time the supervisor must learn, or a critical job that may
        // preempt needs the main lock now; otherwise the next worker to end a job takes this one
        // from the inbox.
        if inbox.freeWorkers.load(ordering: .sequentiallyConsistent) > 0 || job.runAt != nil
            || (job.priority == .critical && configuration.preemption)
        {
            perform(
                locked { state -> PoolEffects in
                    var effects = PoolEffects()
                    state.dispatch(now: .now, &effects)
                    return effects
                })
        }
        return handle
    }

    /// Queues a job and waits for its end.
    public func process(_ job: Job) async throws(OffloadError) -> JobOutcome {
        await (try await submit(job)).outcome
    }

    /// Cancels a job: a queued one ends at once, a running one is asked to stop (and is given up on,
    /// with its worker, after the grace period).
    /// - Returns: `false` when the pool holds no such job.
    @discardableResult
    public func cancel(_ id: JobID) -> Bool {
        let (found, effects) = locked { $0.cancel(id, now: .now) }
        perform(effects)
        return found
    }

    /// Takes back a job that has not started (queued or delayed): it ends `cancelled` with the
    /// error `shuttingDown`, for its submitter to hand it to someone else.
    /// - Returns: `false` when the job is running or unknown (nothing changes).
    package func withdraw(_ id: JobID) -> Bool {
        let (found, effects) = locked { $0.withdraw(id, now: .now) }
        perform(effects)
        return found
    }

    /// Stops handing out jobs (running ones go on); submitted jobs wait.
    public func pause() { locked { $0.isPaused = true } }

    /// Hands out jobs again after ``pause()``.
    public func resume() {
        let effects = locked { state -> PoolEffects in
            state.isPaused = false
            var effects = PoolEffects()
            state.dispatch(now: .now, &effects)
            return effects
        }
        perform(effects)
    }

    /// The limits each kind has in this pool (kinds without any are left out).
    public var kindLimits: [String: KindLimits] { locked { $0.gate.limits } }

    /// Sets what `kind`'s jobs may do in this pool from now on: jobs already running go on; those
    /// waiting start as the new limits allow.
    /// - Throws: ``OffloadError/Code/invalidConfiguration`` for limits ``KindLimits/validate()`` refuses.
    public func setLimits(_ limits: KindLimits, for kind: String) throws(OffloadError) {
        try limits.validate()
        changeLimits(of: kind) { $0 = limits }
    }

    /// Holds `kind`'s waiting jobs back (those running go on) until ``resume(kind:)``.
    public func pause(kind: String) { changeLimits(of: kind) { $0.isPaused = true } }

    /// Lets `kind`'s jobs start again after ``pause(kind:)``.
    public func resume(kind: String) { changeLimits(of: kind) { $0.isPaused = false } }

    private func changeLimits(of kind: String, _ change: (inout KindLimits) -> Void) {
        let effects = locked { state -> PoolEffects in
            var limits = state.gate.limits[kind] ?? KindLimits()
            change(&limits)
            state.gate.set(limits, for: kind)
            var effects = PoolEffects()
            state.dispatch(now: .now, &effects)
            return effects
        }
        perform(effects)
    }

    // MARK: - Schedules

    /// Submits `schedule`'s job at each of its ticks while the pool runs (replacing a schedule of
    /// the same name).
    /// - Throws: ``OffloadError/Code/invalidPayload`` for a schedule ``Schedule/validate()``
    ///   refuses; ``OffloadError/Code/unknownKind`` for a job of a kind the pool does not run;
    ///   ``OffloadError/Code/resourceLimitExceeded`` for a new one past ``Schedule/maxSchedules``.
    public func schedule(_ schedule: Schedule) throws(OffloadError) {
        try schedule.validate()
        guard registry.handler(for: schedule.job.kind) != nil else {
            throw OffloadError(.unknownKind, "the schedule's job is of kind \(OffloadError.quote(schedule.job.kind)), which this pool does not run")
        }
        try periodic.add(schedule)
    }

    /// Removes the schedule named `name` (its jobs already submitted go on); whether there was one.
    @discardableResult
    public func unschedule(_ name: String) -> Bool { periodic.remove(name) }

    /// Stops running a schedule's ticks (`true`) until it is resumed (`false`), from its next
    /// tick after now; whether there was one.
    @discardableResult
    public func pauseSchedule(_ name: String, _ paused: Bool = true) -> Bool { periodic.setPaused(paused, name) }

    /// The pool's schedules, by name, with each one's next tick and last run.
    public var schedules: [ScheduleState] { periodic.all }

    // MARK: - Observation

    /// What the pool's workers declare, together: the kinds and capabilities a job handed to this
    /// pool may require (a durable queue claims only such jobs).
    public var capabilities: Set<String> { profiles.reduce(into: Set()) { $0.formUnion($1) } }

    /// A stream of the pool's events, from now until the pool stops. Each call makes a new stream.
    public func events() -> AsyncStream<PoolEvent> {
        broadcaster.subscribe(bufferingPolicy: configuration.eventBuffering)
    }

    /// Calls `observer` with each event as the pool makes it, in order, under the pool's lock:
    /// it must be quick and must not call the pool. For a host that follows every job (a queue
    /// server), where ``events()`` would cost a task's wake-up per event.
    /// - Returns: the observation's number, for ``stopObserving(_:)``.
    package func observeEvents(_ observer: @escaping @Sendable (PoolEvent) -> Void) -> Int {
        broadcaster.observe(observer)
    }

    package func stopObserving(_ observation: Int) {
        broadcaster.stopObserving(observation)
    }

    /// The job as it was submitted, while the pool holds it (queued, delayed or running).
    public func job(_ id: JobID) -> Job? { inbox.record(id)?.job }

    /// Jobs ended so far (completed, failed or cancelled), read without the pool's lock: an
    /// observer of ``events()`` compares it with the ends it has seen to know how far behind it is.
    public var endedCount: Int { inbox.ended.load(ordering: .relaxed) }

    /// A snapshot of the pool's counters and timings.
    public var metrics: PoolMetrics {
        let (snapshot, effects) = locked { state -> (PoolMetrics, PoolEffects) in
            var effects = PoolEffects()
            state.drainInbox(now: .now, &effects)
            return (state.snapshot(), effects)
        }
        perform(effects)
        return snapshot
    }

    // MARK: - Internals

    private func locked<T, E: Error>(_ body: (inout PoolState) throws(E) -> T) throws(E) -> T {
        try state.withLock { (state: inout PoolState) throws(E) -> T in
            state.events.isOn = broadcaster.isListening
            // Not a `defer`: one that reads the state had it copied whole on every call.
            do throws(E) {
                let result = try body(&state)
                settle(&state)
                return result
            } catch {
                settle(&state)
                throw error
            }
        }
    }

    /// After each change of the state, under its lock: the free workers published, and events
    /// sent to the streams in the order the state made them.
    private func settle(_ state: inout PoolState) {
        state.publishFreeWorkers()
        if !state.events.pending.isEmpty { broadcaster.emit(state.events.take()) }
    }

    private func beginShutdown(timeout: Duration) {
        perform(locked { $0.beginShutdown(timeout: timeout, now: .now) })
    }

    private func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let stopped = locked { state -> Bool in
                if state.phase.isStopped { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    private func perform(_ effects: PoolEffects) {
        // Abandoned first: a stuck thread is counted before its replacement asks whether it may start.
        for worker in effects.abandons { worker.abandon() }
        for worker in effects.starts { worker.start() }
        for (worker, assignment) in effects.deliveries { worker.deliver(assignment) }
        for (worker, job) in effects.cancels { worker.cancel(job) }
        for worker in effects.stops { worker.stop() }
        for (handle, outcome) in effects.resolutions { handle.resolve(outcome) }
        for waiter in effects.admitted { waiter.resume() }
        if effects.wakeSupervisor { supervisor.wake() }
        if effects.finishEvents { broadcaster.finish() }
        for waiter in effects.stopped { waiter.resume() }
    }
}

extension WorkerPool: BatchingWorkerHost {
    func workerReady(_ worker: any Worker) {
        perform(locked { $0.workerReady(worker.id, now: .now) })
    }

    func progress(of job: JobID, attempt: Int, fraction: Double, message: String?) {
        locked { $0.progress(of: job, attempt: attempt, fraction: fraction, message: message, now: .now) }
    }

    func finish(_ assignment: Assignment, result: Result<JobResult, any Error>, on worker: any Worker, takeNext: Bool) -> Assignment? {
        let (next, effects) = locked { $0.finish(assignment, result: result, worker: worker.id, takeNext: takeNext, now: .now) }
        perform(effects)
        return next
    }

    func report(_ reports: [WorkerReport], on worker: any Worker) -> [Assignment] {
        let (next, effects) = locked { state -> ([Assignment], PoolEffects) in
            let now = ContinuousClock.now
            var next: [Assignment] = []
            var effects = PoolEffects()
            for report in reports {
                switch report {
                case .started(let job, let attempt):
                    effects.merge(state.jobStarted(job, attempt: attempt, worker: worker.id, now: now))
                case .progress(let job, let attempt, let fraction, let message):
                    state.progress(of: job, attempt: attempt, fraction: fraction, message: message, now: now)
                case .finished(let assignment, let result):
                    let (following, more) = state.finish(assignment, result: result, worker: worker.id, takeNext: true, now: now)
                    effects.merge(more)
                    if let following { next.append(following) }
                }
            }
            return (next, effects)
        }
        perform(effects)
        return next
    }

    func workerExited(_ worker: any Worker, cause: OffloadError?) {
        perform(locked { $0.workerExited(worker.id, cause: cause, now: .now) })
    }
}

/// Lets the pool's state make workers that refer back to the pool, which exists only after the state.
private final class WorkerFactoryHolder: Sendable {
    private let factory = Mutex<(@Sendable (WorkerID, Set<String>) -> any Worker)?>(nil)
    func set(_ make: @escaping @Sendable (WorkerID, Set<String>) -> any Worker) { factory.withLock { $0 = make } }
    func make(_ id: WorkerID, _ capabilities: Set<String>) -> any Worker { factory.withLock { $0 }!(id, capabilities) }
}
