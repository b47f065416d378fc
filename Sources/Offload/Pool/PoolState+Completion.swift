import CoreMetrics
import Synchronization
extension PoolState {
    /// A worker ended an attempt. Returns the worker's next job when it asked for one.
    mutating func finish(
        _ assignment: Assignment, result: Result<JobResult, any Error>, worker: WorkerID, takeNext: Bool,
        now: ContinuousClock.Instant
    ) -> (Assignment?, PoolEffects) {
        var effects = PoolEffects()
        // An abandoned worker, or an attempt the pool already gave up on, reports nothing.
        guard let index = slotIndex(worker) else { return (nil, effects) }
        let record: JobRecord
        if let running = workers[index].running, running.id == assignment.job.id, running.attempts == assignment.attempt {
            record = running
            let ran = now - (record.startedAt ?? now)
            record.lastRun = ran
            runTimes.record(ran)
            workers[index].running = nil
            workers[index].jobsCompleted += 1
            workers[index].busyTime += ran
        } else if let held = workers[index].held.firstIndex(where: { $0.id == assignment.job.id && $0.attempts == assignment.attempt }) {
            // Ended before it started: cancelled while held, or refused by the worker process.
            record = workers[index].held.remove(at: held)
            record.lastRun = .zero
        } else {
            return (nil, effects)
        }
        if workers[index].load == 0 {
            workers[index].state = .idle
            workers[index].idleSince = now
        }
        let reason = record.stopReason
        record.stopReason = nil
        record.graceDeadline = nil
        if reason == .preempted { pendingPreemptions -= 1 }

        switch result {
        case .success where reason == .timeout:
            // Past its deadline the attempt has timed out, whatever it returns late: as in a
            // worker process, which is killed at the deadline.
            counters.timedOut += 1
            failOrRetry(record, timedOutError(record), now: now, &effects)
        case .success(let output):
            // Work that finished is kept, even if a stop request (cancel, preemption) was on its way.
            finalize(record, .completed, result: output, now: now, &effects)
        case .failure(let error):
            switch (reason, error is CancellationError) {
            case (.preempted?, true):
                requeue(record, now: now, &effects)
            case (.timeout?, _):
                counters.timedOut += 1
                failOrRetry(record, timedOutError(record), now: now, &effects)
            case (.cancelled?, _):
                finalize(record, .cancelled, error: OffloadError(.cancelled, "cancelled by the caller while running"), now: now, &effects)
            case (.shutdown?, _):
                finalize(record, .cancelled, error: OffloadError(.cancelled, "the pool shut down before the job finished"), now: now, &effects)
            default:
                let failure = Self.offloadError(from: error)
                if let delay = failure.snoozeFor, !record.job.queueHoldsAttempts {
                    snooze(record, failure, for: delay, now: now, &effects)
                } else {
                    failOrRetry(record, failure, now: now, &effects)
                }
            }
        }

        if phase.isRunning && !workers[index].stopping && workers.shouldRecycle(index, now: now) {
            workers[index].stopping = true
            replaceIfNeeded(now: now, &effects)
        }
        if phase.isStopping || workers[index].stopping {
            effects.stops.append(workers[index].worker)
            finishStoppingIfDone(now: now, &effects)
            return (nil, effects)
        }
        let next = takeNext ? nextJob(for: index, now: now, &effects) : nil
        dispatch(now: now, &effects)
        checkDrained(now: now, &effects)
        return (next, effects)
    }

    func timedOutError(_ record: JobRecord) -> OffloadError {
        let limit = record.job.timeout.map { "\(Int($0.milliseconds.rounded())) ms" } ?? "its limit"
        let fate = configuration.isolation == .process ? "; its worker process was killed" : ""
        return OffloadError(.timedOut, "attempt \(record.attempts) ran past its timeout of \(limit)\(fate)")
    }

    /// The error a job ends with when its handler threw `error`.
    static func offloadError(from error: any Error) -> OffloadError {
        switch error {
        case let offload as OffloadError: offload
        case is CancellationError: OffloadError(.handlerFailed, "the handler threw CancellationError without being asked to stop")
        default: OffloadError(.handlerFailed, String(describing: error))
        }
    }

    /// Schedules another attempt after the backoff, or ends the job failed.
    mutating func failOrRetry(_ record: JobRecord, _ error: OffloadError, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        guard
            let due = AttemptRules.retryDue(
                after: error, attempts: record.attempts, maxRetries: record.job.maxRetries,
                policy: record.job.retryPolicy, accepting: phase.isRunning || isDraining(before: now), now: now)
        else {
            finalize(record, .failed, error: error, now: now, &effects)
            return
        }
        counters.retried += 1
        record.metrics.retried.increment()
        record.readySince = due
        record.startedAt = nil
        queue.enqueue(record, lane: record.lane, now: now, runAt: due)
        inbox.backlog.add(1, ordering: .relaxed)
        requestWake(at: due, &effects)
        events.emit(.attemptFailed(jobInfo(record, now, runAt: due), error: error))
    }

    /// Queues a snoozed job again after `delay`, a retry added for the attempt it made; past
    /// ``OffloadError/maxAttempts`` it fails, and in a pool that is stopping it is cancelled.
    mutating func snooze(
        _ record: JobRecord, _ snooze: OffloadError, for delay: Duration, now: ContinuousClock.Instant, _ effects: inout PoolEffects
    ) {
        guard record.attempts < OffloadError.maxAttempts, phase.isRunning else {
            let error = phase.isRunning ? OffloadError.snoozedTooOften : OffloadError(.cancelled, "the job snoozed while the pool was shutting down")
            finalize(record, phase.isRunning ? .failed : .cancelled, error: error, now: now, &effects)
            return
        }
        record.job.maxRetries += 1
        record.startedAt = nil
        let due = now + delay
        record.readySince = due
        queue.enqueue(record, lane: record.lane, now: now, runAt: due)
        inbox.backlog.add(1, ordering: .relaxed)
        requestWake(at: due, &effects)
        events.emit(.attemptFailed(jobInfo(record, now, runAt: due), error: snooze))
    }

    func isDraining(before now: ContinuousClock.Instant) -> Bool {
        if case .draining(let deadline, let expired) = phase { return !expired && now < deadline }
        return false
    }

    /// Puts a preempted job back in the queue, keeping its place and its retries.
    mutating func requeue(_ record: JobRecord, now: ContinuousClock.Instant, _ effects: inout PoolEffects) {
        record.attempts -= 1
        record.startedAt = nil
        counters.preempted += 1
        events.emit(.jobPreempted(jobInfo(record, now)))
        queue.enqueue(record, lane: record.lane, now: now, readySince: record.readySince)
        inbox.backlog.add(1, ordering: .relaxed)
    }

    /// Ends a job for good: counts it, resolves its handle and emits its final event.
    mutating func finalize(
        _ record: JobRecord, _ status: JobStatus, result: JobResult? = nil, error: OffloadError? = nil,
        now: ContinuousClock.Instant, _ effects: inout PoolEffects
    ) {
        precondition(!record.hasEnded, "job \(record.id) ended twice")
        record.hasEnded = true
        inbox.forget(record.id)
        inbox.ended.add(1, ordering: .relaxed)
        switch status {
        case .completed: counters.completed += 1
        case .failed: counters.failed += 1
        case .cancelled: counters.cancelled += 1
        }
        record.metrics.recordEnd(status: status, run: record.lastRun)
        let outcome = record.outcome(status: status, result: result, error: error, now: now)
        effects.resolutions.append((record.handle, outcome))
        if events.isOn {
            let info = jobInfo(record, now)
            switch status {
            case .completed: events.emit(.jobCompleted(info, outcome))
            case .failed: events.emit(.jobFailed(info, outcome))
            case .cancelled: events.emit(.jobCancelled(info, outcome))
            }
        }
        if dependencies.remember(record.id, completed: status == .completed) {
            endsToResolve.append((record.id, status == .completed))
            resolveEnds(now: now, &effects)
        }
    }
}
