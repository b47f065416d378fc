import Testing
@testable import Offload

/// The rules of an attempt as a sub-machine: timeouts, ignored stop requests, retries.
@Suite struct AttemptRulesTests {
    let now = ContinuousClock.now

    @Test func aTimeoutAsksAThreadToStopAndKillsAProcess() {
        let past = now - .milliseconds(1)
        #expect(AttemptRules.verdict(deadline: past, graceDeadline: nil, stopReason: nil, now: now, killsWorkers: false) == .askToStop)
        #expect(AttemptRules.verdict(deadline: past, graceDeadline: nil, stopReason: nil, now: now, killsWorkers: true) == .abandonWorker(.timeout))
        // Overtakes a preemption, but not a cancel, a shutdown or its own stop request.
        #expect(
            AttemptRules.verdict(deadline: past, graceDeadline: now + .seconds(1), stopReason: .preempted, now: now, killsWorkers: false)
                == .askToStop)
        for reason in [StopReason.timeout, .cancelled, .shutdown] {
            #expect(
                AttemptRules.verdict(deadline: past, graceDeadline: now + .seconds(1), stopReason: reason, now: now, killsWorkers: true)
                    == .none)
        }
        #expect(AttemptRules.verdict(deadline: now + .seconds(1), graceDeadline: nil, stopReason: nil, now: now, killsWorkers: true) == .none)
    }

    @Test func aStopRequestIgnoredPastItsGraceCostsTheWorkerExceptAPreemptionOfAThread() {
        let expired = now - .milliseconds(1)
        for reason in [StopReason.timeout, .cancelled, .shutdown] {
            #expect(
                AttemptRules.verdict(deadline: nil, graceDeadline: expired, stopReason: reason, now: now, killsWorkers: false)
                    == .abandonWorker(reason))
        }
        #expect(AttemptRules.verdict(deadline: nil, graceDeadline: expired, stopReason: .preempted, now: now, killsWorkers: false) == .letFinish)
        #expect(
            AttemptRules.verdict(deadline: nil, graceDeadline: expired, stopReason: .preempted, now: now, killsWorkers: true)
                == .abandonWorker(.preempted))
        #expect(
            AttemptRules.verdict(deadline: nil, graceDeadline: now + .seconds(1), stopReason: .cancelled, now: now, killsWorkers: false)
                == .none)
    }

    @Test func theNextCheckIsTheEarlierDeadlineNotCountingATimeoutAlreadyActedOn() {
        let soon = now + .seconds(1)
        let later = now + .seconds(5)
        #expect(AttemptRules.nextCheck(deadline: later, graceDeadline: soon, stopReason: .cancelled) == soon)
        #expect(AttemptRules.nextCheck(deadline: soon, graceDeadline: later, stopReason: .cancelled) == soon)
        #expect(AttemptRules.nextCheck(deadline: soon, graceDeadline: later, stopReason: .timeout) == later)
        #expect(AttemptRules.nextCheck(deadline: nil, graceDeadline: nil, stopReason: nil) == nil)
    }

    @Test func aRetryIsDueAfterThePolicysWaitWhileRetriesAreLeftAndThePoolRuns() {
        let policy = RetryPolicy(initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .seconds(1), jitter: 0.5)
        let failed = OffloadError(.handlerFailed, "no")
        let due = { (attempts: Int) in
            AttemptRules.retryDue(after: failed, attempts: attempts, maxRetries: 3, policy: policy, accepting: true, now: now, random: { 0.5 })
        }
        #expect(due(1) == now + .milliseconds(100))
        #expect(due(3) == now + .milliseconds(400))
        #expect(due(4) == nil)
        #expect(AttemptRules.retryDue(after: failed, attempts: 1, maxRetries: 3, policy: policy, accepting: false, now: now) == nil)
        let invalid = OffloadError(.invalidPayload, "bad")
        #expect(!invalid.isRetryable)
        #expect(AttemptRules.retryDue(after: invalid, attempts: 1, maxRetries: 3, policy: policy, accepting: true, now: now) == nil)
        // Jitter spreads the wait around the policy's figure.
        let early = AttemptRules.retryDue(after: failed, attempts: 1, maxRetries: 3, policy: policy, accepting: true, now: now, random: { 0 })
        #expect(early == now + .milliseconds(50))
    }
}
