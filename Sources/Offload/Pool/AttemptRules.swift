/// The rules of a job's attempt, as a sub-machine of ``PoolState``'s jobs: what a timeout or an
/// ignored stop request calls for at a given time, when to look again, and whether a failed
/// attempt is retried and when. Pure functions of the attempt's fields and the time; the state
/// performs what they decide. Driven alone by `AttemptRulesTests`.
enum AttemptRules {
    /// What a running attempt's deadlines call for now.
    enum Verdict: Equatable {
        case none
        /// It ran past its timeout: ask it to stop (thread isolation), with a grace period.
        case askToStop
        /// End its worker, for `reason`: a timeout in process isolation (killed at once), or a stop
        /// request ignored past its grace period.
        case abandonWorker(StopReason)
        /// It ignored a preemption in thread isolation: let it finish, and do not ask again.
        case letFinish
    }

    /// What the deadlines of a running attempt call for at `now`.
    /// - Parameters:
    ///   - deadline: when its timeout passes.
    ///   - graceDeadline: when a stop request it was sent expires.
    ///   - stopReason: why it was asked to stop, if it was.
    ///   - killsWorkers: whether workers are processes (killed) rather than threads (abandoned).
    static func verdict(
        deadline: ContinuousClock.Instant?, graceDeadline: ContinuousClock.Instant?, stopReason: StopReason?,
        now: ContinuousClock.Instant, killsWorkers: Bool
    ) -> Verdict {
        if let deadline, now >= deadline, stopReason != .timeout, stopReason != .cancelled, stopReason != .shutdown {
            return killsWorkers ? .abandonWorker(.timeout) : .askToStop
        }
        guard let graceDeadline, now >= graceDeadline, let stopReason else { return .none }
        return stopReason == .preempted && !killsWorkers ? .letFinish : .abandonWorker(stopReason)
    }

    /// When the deadlines of a running attempt next call for something.
    static func nextCheck(
        deadline: ContinuousClock.Instant?, graceDeadline: ContinuousClock.Instant?,
        stopReason: StopReason?
    ) -> ContinuousClock.Instant? {
        let timeout = stopReason == .timeout ? nil : deadline
        return [timeout, graceDeadline].compactMap { $0 }.min()
    }

    /// When a failed attempt runs again, or `nil` when the job fails for good: the error is
    /// retryable, retries are left (`attempts` made of `maxRetries + 1`) and the pool still runs
    /// jobs (`accepting`).
    static func retryDue(
        after error: OffloadError, attempts: Int, maxRetries: Int, policy: RetryPolicy, accepting: Bool,
        now: ContinuousClock.Instant, random: () -> Double = { Double.random(in: 0...1) }
    ) -> ContinuousClock.Instant? {
        guard error.isRetryable, attempts <= maxRetries, accepting else { return nil }
        return now + policy.delay(beforeRetry: attempts, random: random)
    }
}

extension AttemptRules {
    static func verdict(for record: JobRecord, now: ContinuousClock.Instant, killsWorkers: Bool) -> Verdict {
        verdict(
            deadline: record.deadline, graceDeadline: record.graceDeadline, stopReason: record.stopReason, now: now,
            killsWorkers: killsWorkers)
    }

    static func nextCheck(for record: JobRecord) -> ContinuousClock.Instant? {
        nextCheck(deadline: record.deadline, graceDeadline: record.graceDeadline, stopReason: record.stopReason)
    }
}
