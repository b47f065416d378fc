import CoreMetrics
import DequeModule
import Synchronization
extension PoolState {
    /// Moves submitted jobs from the inbox into the queue.
    mutating func drainInbox(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        for record in inbox.takeArrivals() {
            // Jobs accepted before a shutdown began are drained with the rest.
            let open =
                switch phase {
                case .running: true
                case .draining(_, let expired): !expired
                case .stopping, .stopped: false
                }
            guard open else {
                inbox.backlog.subtract(1, ordering: .relaxed)
                finalize(record, .cancelled, error: OffloadError(.shuttingDown, "the pool shut down before the job was queued"), now: now, &effects)
                continue
            }
            counters.submitted += 1
            if record.job.dependsOn.isEmpty {
                enqueueArrived(record, now: now, &effects)
            } else {
                admitDependent(record, now: now, &effects)
            }
        }
    }

    /// Queues a job that may run (submitted, or its dependencies ended).
    mutating func enqueueArrived(_ record: JobRecord, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        queue.enqueue(record, lane: record.lane, now: now, runAt: record.job.runAt)
        events.emit(.jobQueued(jobInfo(record, now, runAt: record.job.runAt.flatMap { $0 > now ? $0 : nil })))
        if let due = record.job.runAt, due > now { requestWake(at: due, &effects) }
    }

    /// A job with dependencies arrived: it waits for those held, runs when all have ended as it
    /// needs, or is cancelled when one already failed.
    private mutating func admitDependent(_ record: JobRecord, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        let inbox = inbox
        let admission = dependencies.admit(record) { inbox.contains($0) }
        if admission != .ready { events.emit(.jobWaiting(jobInfo(record, now))) }
        switch admission {
        case .waits: break
        case .ready: enqueueArrived(record, now: now, &effects)
        case .dependencyFailed(let dependency):
            inbox.backlog.subtract(1, ordering: .relaxed)
            finalize(record, .cancelled, error: Self.dependencyFailure(dependency), now: now, &effects)
        case .unknown(let dependency):
            inbox.backlog.subtract(1, ordering: .relaxed)
            finalize(record, .failed, error: Self.unknownDependency(dependency), now: now, &effects)
        }
    }

    static func dependencyFailure(_ dependency: JobID) -> OffloadError {
        OffloadError(.dependencyFailed, "job \(dependency), which it depends on, failed or was cancelled")
    }

    static func unknownDependency(_ dependency: JobID) -> OffloadError {
        OffloadError(
            .invalidDependency,
            "dependsOn: job \(dependency) is neither in the pool nor among its last \(OffloadError.grouped(DependencyBook.rememberedEnds)) ends")
    }

    /// Releases or cancels the jobs that waited for those that ended (each cancel is an end
    /// whose own dependents are resolved in turn, here, not by recursion).
    mutating func resolveEnds(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard !isResolvingEnds else { return }
        isResolvingEnds = true
        defer { isResolvingEnds = false }
        var next = 0
        while next < endsToResolve.count {
            let (id, completed) = endsToResolve[next]
            next += 1
            let (ready, cancelled) = dependencies.release(after: id, completed: completed)
            for record in ready {
                if phase.isRunning || isDraining(before: now) {
                    record.readySince = max(record.readySince, now)
                    enqueueArrived(record, now: now, &effects)
                    requestWake(at: now, &effects)
                } else {
                    inbox.backlog.subtract(1, ordering: .relaxed)
                    finalize(record, .cancelled, error: OffloadError(.cancelled, "the pool shut down before the job started"), now: now, &effects)
                }
            }
            for record in cancelled {
                inbox.backlog.subtract(1, ordering: .relaxed)
                finalize(record, .cancelled, error: Self.dependencyFailure(id), now: now, &effects)
            }
        }
        endsToResolve.removeAll(keepingCapacity: true)
    }

    /// Publishes how many workers are free, for submitters deciding whether to dispatch.
    func publishFreeWorkers() {
        var free = 0
        for slot in workers.slots where slot.isFree { free += 1 }
        inbox.freeWorkers.store(free, ordering: .sequentiallyConsistent)
    }

    /// Hands ready jobs to free workers, as the policy chooses, then preempts for waiting critical work.
    mutating func dispatch(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        drainInbox(now: now, &effects)
        guard isStarted, !isPaused, phase.handsOutJobs else { return }
        queue.releaseDue(now: now)
        let slots = workers.slots
        var closed = closedKinds(now: now, &effects)
        let servable = { (lane: QueueLane) in
            (closed.isEmpty || !closed.contains(lane.kind)) && slots.contains { $0.isFree && lane.isServed(by: $0.capabilities) }
        }
        while queue.readyCount > 0, let record = queue.peek(now: now, where: servable), let chosen = chooseWorker(for: record) {
            _ = queue.dequeue(now: now, where: servable)
            let assignment = assign(record, to: chosen, now: now, &effects)
            effects.deliveries.append((workers[chosen].worker, assignment))
            if !gate.limits.isEmpty && gate.limits[record.job.kind] != nil { closed = closedKinds(now: now, &effects) }
        }
        preemptIfNeeded(now: now, closed: closed, &effects)
        admitWaitingSubmitters(&effects)
    }

    /// The free worker that takes `record`: of those able to, the ones holding fewest jobs (prefetch
    /// fills a worker only when none is emptier), and among those the policy's choice.
    private mutating func chooseWorker(for record: JobRecord) -> Int? {
        var lightest = Int.max
        var tied = 0
        var first = -1
        for index in workers.indices where workers[index].isFree && record.lane.isServed(by: workers[index].capabilities) {
            let load = workers[index].load
            if load < lightest {
                (lightest, tied, first) = (load, 1, index)
            } else if load == lightest {
                tied += 1
            }
        }
        if tied <= 1 { return tied == 1 ? first : nil }
        let candidates = workers.indices.filter { index in
            workers[index].isFree && workers[index].load == lightest && record.lane.isServed(by: workers[index].capabilities)
        }
        guard let id = policy.selectWorker(for: record.info, among: candidates.map { workers[$0].info }) else { return nil }
        return candidates.first { workers[$0].id == id }
    }

    /// The next job for a worker that has just become free, taken directly (no hand-off).
    mutating func nextJob(for index: Int, now: ContinuousClock.Instant, _ effects: inout PoolEffects) -> Assignment? {
        guard isStarted, !isPaused, phase.handsOutJobs, workers[index].isFree else { return nil }
        // Publish this worker as free before draining, so a job appended meanwhile is not missed.
        publishFreeWorkers()
        drainInbox(now: now, &effects)
        let capabilities = workers[index].capabilities
        let closed = closedKinds(now: now, &effects)
        guard let record = queue.dequeue(now: now, where: { (closed.isEmpty || !closed.contains($0.kind)) && $0.isServed(by: capabilities) })
        else { return nil }
        admitWaitingSubmitters(&effects)
        return assign(record, to: index, now: now, &effects)
    }

    /// Hands `record` to worker `index`: it starts now when the worker holds nothing, else it waits
    /// in the worker behind the others (prefetch) until the worker says it started.
    mutating func assign(_ record: JobRecord, to index: Int, now: ContinuousClock.Instant, _ effects: inout PoolEffects) -> Assignment {
        precondition(workers[index].isFree, "job \(record.id) handed to worker \(workers[index].id), which is not free")
        gate.started(record.job.kind, now: now)
        record.attempts += 1
        inbox.backlog.subtract(1, ordering: .relaxed)
        record.worker = workers[index].id
        record.workerPID = workers[index].worker.pid
        record.stopReason = nil
        record.graceDeadline = nil
        workers[index].state = .busy
        workers[index].handedOver += 1
        let held = workers[index].load > 0
        if held {
            record.startedAt = nil
            record.deadline = nil
            workers[index].held.append(record)
        } else {
            start(record, on: index, now: now, &effects)
        }
        var job = record.job
        if let tracing {
            job.trace = tracing.attemptStarts(job, attempt: record.attempts, worker: workers[index].id, readySince: record.readySince, now: now)
        }
        return Assignment(
            job: job, attempt: record.attempts, handler: record.handler, sequence: workers[index].handedOver, announcesStart: held)
    }

    /// The attempt of `record` starts on worker `index`: its wait ends and its timeout runs.
    private mutating func start(_ record: JobRecord, on index: Int, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        precondition(workers[index].running == nil, "worker \(workers[index].id) would run two jobs at once")
        record.startedAt = now
        record.lastWait = now - record.readySince
        record.deadline = record.job.timeout.map { now + $0 }
        workers[index].running = record
        waitTimes.record(record.lastWait)
        record.metrics.wait.recordNanoseconds(record.lastWait.nanoseconds)
        if let deadline = record.deadline { requestWake(at: deadline, &effects) }
        events.emit(.jobStarted(jobInfo(record, now)))
    }

    /// A worker started a job it held behind the one it has just ended. Not necessarily the first
    /// one held: jobs handed to one worker from two threads at once may reach it in either order.
    mutating func jobStarted(_ id: JobID, attempt: Int, worker: WorkerID, now: ContinuousClock.Instant) -> PoolEffects {
        var effects = PoolEffects()
        guard let index = slotIndex(worker), workers[index].running == nil,
            let held = workers[index].held.firstIndex(where: { $0.id == id && $0.attempts == attempt })
        else { return effects }
        start(workers[index].held.remove(at: held), on: index, now: now, &effects)
        return effects
    }

    /// When critical jobs wait and no worker is free: start a worker if the pool may grow,
    /// else ask the worker running the least urgent (and most recently started) job to give way.
    mutating func preemptIfNeeded(now: ContinuousClock.Instant, closed: Set<String>, _ effects: inout PoolEffects) {
        guard configuration.preemption, phase.isRunning else { return }
        var waiting = queue.readyCount(of: .critical) - pendingPreemptions
        guard waiting > 0, let critical = queue.peek(now: now, where: { !closed.contains($0.kind) }), critical.priority == .critical
        else { return }
        let starting = workers.filter { $0.state == .initializing && !$0.stopping }.count
        waiting -= starting
        while waiting > 0 && workers.filter({ !$0.stopping }).count < configuration.scaling.maxWorkers {
            spawnWorker(now: now, &effects)
            waiting -= 1
        }
        while waiting > 0 {
            let victims = workers.indices.filter { index in
                guard let running = workers[index].running, !workers[index].stopping, running.stopReason == nil,
                    !running.refusedPreemption, critical.lane.isServed(by: workers[index].capabilities)
                else { return false }
                return policy.shouldPreempt(running: running.info, for: critical.info)
            }
            guard
                let victim = victims.min(by: { a, b in
                    let (x, y) = (workers[a].running!, workers[b].running!)
                    if x.priority != y.priority { return x.priority < y.priority }
                    return (x.startedAt ?? now) > (y.startedAt ?? now)
                })
            else { return }
            let record = workers[victim].running!
            requestStop(
                record, reason: .preempted, slot: victim, now: now,
                message: "preempted by critical job \(critical.id)", &effects)
            pendingPreemptions += 1
            waiting -= 1
        }
    }

    /// Asks the worker running `record` to stop it, and gives it the grace period to do so.
    mutating func requestStop(
        _ record: JobRecord, reason: StopReason, slot: Int, now: ContinuousClock.Instant,
        message: String, _ effects: inout PoolEffects
    ) {
        if record.stopReason == .preempted { pendingPreemptions -= 1 }
        record.stopReason = reason
        record.graceDeadline = now + configuration.cancellationGracePeriod
        requestWake(at: record.graceDeadline!, &effects)
        effects.cancels.append((workers[slot].worker, record.id))
        events.emit(.stopRequested(jobInfo(record, now), reason: message))
    }

    /// Lets submitters waiting for room in, as far as there is room.
    mutating func admitWaitingSubmitters(_ effects: inout PoolEffects) {
        guard !capacityWaiters.isEmpty else { return }
        var room = (configuration.capacity ?? Int.max) - inbox.backlog.load(ordering: .relaxed)
        if !acceptsJobs { room = Int.max }
        while room > 0, let waiter = capacityWaiters.popFirst() {
            effects.admitted.append(waiter)
            room -= 1
        }
    }

    /// Cancels a job: a queued one ends now, a running one is asked to stop.
    mutating func cancel(_ id: JobID, now: ContinuousClock.Instant) -> (Bool, PoolEffects) {
        var effects = PoolEffects()
        drainInbox(now: now, &effects)
        guard let record = inbox.record(id) else { return (false, effects) }
        if removeQueued(record, error: OffloadError(.cancelled, "cancelled before it started"), now: now, &effects) { return (true, effects) }
        if removeWaiting(id, error: OffloadError(.cancelled, "cancelled while it waited for its dependencies"), now: now, &effects) {
            return (true, effects)
        }
        if let slot = workers.firstIndex(where: { $0.running === record || $0.held.contains { $0 === record } }),
            record.stopReason != .cancelled
        {
            requestStop(record, reason: .cancelled, slot: slot, now: now, message: "cancelled by the caller", &effects)
        }
        return (true, effects)
    }

    /// Takes a job back out of the queue before it starts: ``WorkerPool/withdraw(_:)``.
    mutating func withdraw(_ id: JobID, now: ContinuousClock.Instant) -> (Bool, PoolEffects) {
        var effects = PoolEffects()
        drainInbox(now: now, &effects)
        guard let record = inbox.record(id) else { return (false, effects) }
        let error = OffloadError(.shuttingDown, "handed back before it started")
        let withdrawn = removeQueued(record, error: error, now: now, &effects) || removeWaiting(id, error: error, now: now, &effects)
        return (withdrawn, effects)
    }

    /// Ends a job that waits for its dependencies `cancelled` with `error`; `false` when it does not wait.
    private mutating func removeWaiting(_ id: JobID, error: OffloadError, now: ContinuousClock.Instant, _ effects: inout PoolEffects) -> Bool {
        guard let record = dependencies.remove(id) else { return false }
        inbox.backlog.subtract(1, ordering: .relaxed)
        finalize(record, .cancelled, error: error, now: now, &effects)
        admitWaitingSubmitters(&effects)
        return true
    }

    /// Ends a job still in the queue (not started) `cancelled` with `error`; `false` when it is not queued.
    private mutating func removeQueued(
        _ record: JobRecord, error: OffloadError, now: ContinuousClock.Instant, _ effects: inout PoolEffects
    ) -> Bool {
        guard queue.remove(record.id) != nil else { return false }
        inbox.backlog.subtract(1, ordering: .relaxed)
        finalize(record, .cancelled, error: error, now: now, &effects)
        admitWaitingSubmitters(&effects)
        return true
    }

    mutating func progress(of id: JobID, attempt: Int, fraction: Double, message: String?, now: ContinuousClock.Instant) {
        // A run asked to stop has nothing more to report: its next step is its stop.
        guard let record = inbox.record(id), record.attempts == attempt, record.startedAt != nil, record.stopReason == nil else { return }
        record.handle.record(JobProgress(fraction: fraction, message: message))
        events.emit(.jobProgress(jobInfo(record, now), fraction: fraction, message: message))
    }
}

extension PoolState {
    /// The kinds whose limits hold their jobs back at `now` (none when no kind has limits); a
    /// kind held back by its rate has the supervisor woken when it opens.
    mutating func closedKinds(now: ContinuousClock.Instant, _ effects: inout PoolEffects) -> Set<String> {
        guard !gate.limits.isEmpty else { return [] }
        let slots = workers.slots
        let (closed, opensAt) = gate.closedKinds(now: now) { kind in
            slots.reduce(0) { count, slot in
                count + (slot.running?.job.kind == kind ? 1 : 0) + slot.held.reduce(0) { $0 + ($1.job.kind == kind ? 1 : 0) }
            }
        }
        kindOpensAt = opensAt
        if let opensAt { requestWake(at: opensAt, &effects) }
        return closed
    }
}
