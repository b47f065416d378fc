import CoreMetrics
import Synchronization
extension PoolState {
    /// The supervisor's periodic work: release due jobs, enforce timeouts and grace periods,
    /// scale, and move a shutdown along. Returns when the supervisor should run next.
    mutating func tick(now: ContinuousClock.Instant) -> (PoolEffects, ContinuousClock.Instant) {
        var effects = PoolEffects()
        drainInbox(now: now, &effects)
        enforceDeadlines(now: now, &effects)
        recycleAged(now: now, &effects)
        if workers.respawnAfter != nil { replaceIfNeeded(now: now, &effects) }
        if isStarted && phase.isRunning && now >= nextScaleCheck {
            scale(now: now, &effects)
            nextScaleCheck = now + configuration.scaling.checkInterval
        }
        advanceShutdown(now: now, &effects)
        dispatch(now: now, &effects)
        let wake = nextWake(now: now)
        supervisorWakeAt = wake
        return (effects, wake)
    }

    private mutating func nextWake(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        var wake = now + .seconds(1)
        if isStarted && phase.isRunning { wake = min(wake, nextScaleCheck) }
        if let due = queue.nextDueTime() { wake = min(wake, due) }
        if let opens = kindOpensAt, opens > now { wake = min(wake, opens) }
        for slot in workers {
            if let record = slot.running, let check = AttemptRules.nextCheck(for: record) { wake = min(wake, check) }
        }
        if case .draining(let deadline, false) = phase { wake = min(wake, deadline) }
        if let respawnAfter = workers.respawnAfter { wake = min(wake, respawnAfter) }
        return max(wake, now)
    }

    /// In thread isolation a timeout asks the job to stop, and a job that ignores a stop request
    /// past its grace period costs its worker (abandoned and replaced). In process isolation a
    /// timeout kills the worker at once, and so does an ignored stop request.
    private mutating func enforceDeadlines(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        let killsWorkers = configuration.isolation == .process
        for index in workers.indices.reversed() {
            guard let record = workers[index].running else { continue }
            switch AttemptRules.verdict(for: record, now: now, killsWorkers: killsWorkers) {
            case .none:
                break
            case .askToStop:
                requestStop(record, reason: .timeout, slot: index, now: now, message: timedOutError(record).message, &effects)
            case .abandonWorker(let reason):
                // A preemption overtaken by the timeout is no longer pending.
                if reason == .timeout && record.stopReason == .preempted { pendingPreemptions -= 1 }
                abandonWorker(at: index, record: record, reason: reason, now: now, &effects)
            case .letFinish:
                record.stopReason = nil
                record.graceDeadline = nil
                record.refusedPreemption = true
                pendingPreemptions -= 1
            }
        }
    }

    private mutating func abandonWorker(
        at index: Int, record: JobRecord, reason: StopReason, now: ContinuousClock.Instant,
        _ effects: inout PoolEffects
    ) {
        let slot = workers.remove(at: index)
        effects.abandons.append(slot.worker)
        record.lastRun = now - (record.startedAt ?? now)
        let isProcess = configuration.isolation == .process
        if events.isOn {
            let message =
                switch (reason, isProcess) {
                case (.timeout, true): "job \(record.id) ran past its timeout; worker \(slot.id) (pid \(slot.worker.pid)) was killed and is replaced"
                case (_, true):
                    "worker \(slot.id) (pid \(slot.worker.pid)) did not stop job \(record.id) within \(Int(configuration.cancellationGracePeriod.milliseconds)) ms; it was killed and is replaced"
                case (_, false):
                    "worker \(slot.id) did not stop job \(record.id) within \(Int(configuration.cancellationGracePeriod.milliseconds)) ms; it was abandoned and replaced"
                }
            events.emit(.workerFailed(workerInfo(slot.id, pid: slot.worker.pid, now), job: record.id, message: message, error: nil))
        }
        let message =
            isProcess
            ? "the job did not stop when asked; its worker process was killed"
            : "the job did not stop when asked; its worker was abandoned"
        endStopped(record, reason: reason, error: OffloadError(.cancelled, message), now: now, &effects)
        for held in slot.held { giveBack(held, now: now, &effects) }
        replaceIfNeeded(now: now, &effects)
        finishStoppingIfDone(now: now, &effects)
    }

    /// Ends the attempt of a job the pool had asked to stop, whose worker is gone.
    /// - Parameter error: the error for a cancellation (the worker's fate).
    mutating func endStopped(
        _ record: JobRecord, reason: StopReason, error: OffloadError, now: ContinuousClock.Instant,
        _ effects: inout PoolEffects
    ) {
        record.stopReason = nil
        record.graceDeadline = nil
        switch reason {
        case .timeout:
            counters.timedOut += 1
            failOrRetry(record, timedOutError(record), now: now, &effects)
        case .cancelled:
            finalize(record, .cancelled, error: OffloadError(.cancelled, "cancelled by the caller: \(error.message)"), now: now, &effects)
        case .shutdown:
            finalize(record, .cancelled, error: OffloadError(.cancelled, "the pool shut down before the job finished"), now: now, &effects)
        case .preempted:
            pendingPreemptions -= 1
            requeue(record, now: now, &effects)
        }
    }

    /// Ends, and replaces, idle workers past their lifetime.
    private mutating func recycleAged(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard phase.isRunning else { return }
        for index in workers.agedIdleWorkers(now: now) {
            workers[index].stopping = true
            effects.stops.append(workers[index].worker)
        }
        replaceIfNeeded(now: now, &effects)
    }

    private mutating func scale(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        let (loads, starting) = workers.loads
        let decision = scaler.decide(now: now, workers: loads, starting: starting, readyJobs: queue.readyCount)
        // Workers failing to start back off, and the scaler waits with them.
        for _ in 0..<(workers.mayStart(now: now) ? decision.add : 0) { spawnWorker(now: now, &effects) }
        for id in decision.retire {
            guard let index = slotIndex(id), workers[index].isIdle else { continue }
            workers[index].stopping = true
            effects.stops.append(workers[index].worker)
        }
    }

    // MARK: - Shutdown

    /// Stops taking jobs; queued and running jobs may finish until `timeout` has passed.
    mutating func beginShutdown(timeout: Duration, now: ContinuousClock.Instant) -> PoolEffects {
        var effects = PoolEffects()
        guard phase.isRunning else { return effects }
        // A pool that has not started yet drains when `run()` starts it.
        phase = .draining(deadline: now + timeout, expired: false)
        inbox.accepting.store(false, ordering: .sequentiallyConsistent)
        drainInbox(now: now, &effects)
        // Submitters waiting for room are let in to hear that the pool is closing.
        effects.admitted.append(contentsOf: capacityWaiters)
        capacityWaiters.removeAll()
        isPaused = false
        effects.wakeSupervisor = true
        supervisorWakeAt = now
        advanceShutdown(now: now, &effects)
        return effects
    }

    private mutating func advanceShutdown(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard case .draining(let deadline, let expired) = phase else {
            finishStoppingIfDone(now: now, &effects)
            return
        }
        if !expired && now >= deadline {
            phase = .draining(deadline: deadline, expired: true)
            for record in queue.removeAll(now: now) + dependencies.removeAll() {
                inbox.backlog.subtract(1, ordering: .relaxed)
                finalize(record, .cancelled, error: OffloadError(.cancelled, "the pool shut down before the job started"), now: now, &effects)
            }
            for index in workers.indices {
                for record in [workers[index].running].compactMap({ $0 }) + workers[index].held where record.stopReason != .shutdown {
                    requestStop(record, reason: .shutdown, slot: index, now: now, message: "the pool is shutting down", &effects)
                }
            }
        }
        checkDrained(now: now, &effects)
    }

    /// Once a draining pool holds no job, its workers are told to end.
    mutating func checkDrained(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard case .draining = phase, inbox.isEmpty else { return }
        phase = .stopping
        for index in workers.indices where !workers[index].stopping {
            workers[index].stopping = true
            effects.stops.append(workers[index].worker)
        }
        finishStoppingIfDone(now: now, &effects)
    }

    mutating func finishStoppingIfDone(now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard phase.isStopping, workers.isEmpty else { return }
        phase = .stopped
        effects.stopped.append(contentsOf: stopWaiters)
        stopWaiters.removeAll()
        effects.finishEvents = true
        effects.wakeSupervisor = true
    }
}
