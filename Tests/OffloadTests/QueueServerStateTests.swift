import Testing
@testable import Offload

/// `QueueServerState` driven event by event, without threads, a pool or a queue.
@Suite struct QueueServerStateTests {
    func claimed(_ name: String, priority: Priority = .normal, attempt: Int = 1) -> ClaimedJob {
        ClaimedJob(job: Job(id: JobID(name), kind: "debug.echo", priority: priority), attempt: attempt, maxAttempts: 3, owner: "host")
    }

    func end(_ claimed: ClaimedJob, _ status: JobStatus = .completed) -> JobEnd {
        JobEnd(
            claimed,
            JobOutcome(
                id: claimed.job.id, kind: claimed.job.kind, priority: claimed.job.priority, status: status,
                attempts: claimed.attempt))
    }

    func info(_ name: String, attempt: Int = 1) -> JobEventInfo {
        JobEventInfo(
            time: .milliseconds(5), job: JobID(name), kind: "debug.echo", priority: .normal, attempt: attempt, worker: WorkerID("w1"),
            pid: 42)
    }

    @Test func claimsAreSizedToFreeWorkersPlusPrefetchAndMadeOnceHalfTheRoomIsFree() {
        var state = QueueServerState(workers: 2, prefetch: 2, preempts: true)
        #expect(state.claimLimit == 4)
        let jobs = (1...4).map { claimed("j\($0)") }
        #expect(state.claimed(jobs).map(\.job.id) == ["j1", "j2"])
        #expect(state.claimLimit == nil)
        #expect(!state.waitsForWork)
        _ = state.ended(end(jobs[0]))
        // One free place in four, with jobs waiting: not worth a statement yet.
        #expect(state.claimLimit == nil)
        #expect(state.startable().map(\.job.id) == ["j3"])
        _ = state.ended(end(jobs[1]))
        _ = state.ended(end(jobs[2]))
        #expect(state.startable().map(\.job.id) == ["j4"])
        #expect(state.claimLimit == 3)
    }

    @Test func aCriticalJobStartsOnABusyHostForThePoolToPreemptLowerWork() {
        var state = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        #expect(state.claimed([claimed("low", priority: .low)]).count == 1)
        #expect(state.claimed([claimed("normal")]).isEmpty)
        var withoutPreemption = QueueServerState(workers: 1, prefetch: 2, preempts: false)
        _ = withoutPreemption.claimed([claimed("low", priority: .low)])
        #expect(withoutPreemption.claimed([claimed("urgent", priority: .critical)]).isEmpty)
        // Claims come in the queue's order, critical first.
        var fresh = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        _ = fresh.claimed([claimed("low", priority: .low)])
        #expect(fresh.claimed([claimed("urgent", priority: .critical), claimed("next")]).map(\.job.id) == ["urgent"])
        #expect(fresh.running.count == 2)
    }

    @Test func aCancelEndsAWaitingJobAtOnceAndAsksThePoolToStopARunningOne() throws {
        var state = QueueServerState(workers: 1, prefetch: 1, preempts: true)
        _ = state.claimed([claimed("running"), claimed("waiting")])
        #expect(state.cancel("waiting") == [.write])
        #expect(state.ending["waiting"] != nil)
        let cancelledWrite = state.nextWrite(force: false)
        let write = try #require(cancelledWrite)
        #expect(write.ends.map(\.outcome.status) == [.cancelled])
        #expect(write.ends.first?.outcome.error?.code == .cancelled)
        #expect(state.cancel("running") == [.stopInPool("running")])
        #expect(state.cancel("unknown") == [])
        // The pool then ends it cancelled: an end of its own, not a hand-back, even while stopping.
        state.stop(deadline: .now)
        let cancelled = JobOutcome(id: "running", kind: "debug.echo", priority: .normal, status: .cancelled, attempts: 1)
        #expect(!state.isHandedBack(claimed("running"), cancelled))
        #expect(state.isHandedBack(claimed("other"), cancelled))
    }

    @Test func aLostLeaseDropsAWaitingJobAndStopsARunningOne() {
        var state = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        _ = state.claimed([claimed("a"), claimed("b"), claimed("c")])
        let actions = state.renewed(LeaseRenewal(lost: ["a", "b"], cancelRequested: ["c"]))
        #expect(actions.contains(.stopInPool("a")))
        #expect(!actions.contains(.stopInPool("b")))
        #expect(state.waiting.isEmpty)
        #expect(state.ending["c"] != nil)  // cancelled while waiting
        #expect(state.held.map(\.job.id).sorted { $0.rawValue < $1.rawValue } == ["a", "c"])
    }

    @Test func stepsOfHeldJobsAreKeptWithTheirClaimAndOnlyThoseTheQueueDoesNotSee() {
        var state = QueueServerState(workers: 2, prefetch: 0, preempts: true)
        _ = state.claimed([claimed("a", attempt: 2), claimed("b")])
        let origin = Timestamp(secondsSince1970: 1_000)
        #expect(state.poolEvent(.jobQueued(info("a")), origin: origin, host: "h") == nil)
        #expect(state.poolEvent(.jobStarted(info("a")), origin: origin, host: "h") == nil)
        #expect(state.poolEvent(.jobProgress(info("a"), fraction: 0.5, message: "half"), origin: origin, host: "h") == .write)
        #expect(state.poolEvent(.jobProgress(info("stranger"), fraction: 0.5, message: nil), origin: origin, host: "h") == nil)
        #expect(state.poolEvent(.stopRequested(info("b"), reason: "preempted by critical job x"), origin: origin, host: "h") == .write)
        #expect(state.poolEvent(.jobPreempted(info("b")), origin: origin, host: "h") == .write)
        #expect(state.poolEvent(.jobStarted(info("b")), origin: origin, host: "h") == .write)
        #expect(state.poolEvent(.jobStarted(info("b")), origin: origin, host: "h") == nil)
        #expect(state.steps.map(\.name) == ["progress", "stopRequested", "preempted", "started"])
        let progress = state.steps[0]
        #expect(progress.attempt == 2)
        #expect(progress.host == "h")
        #expect(progress.worker == nil)
        #expect(progress.at == origin.adding(.milliseconds(5)))
    }

    @Test func progressWaitingToBeWrittenIsBoundedButOtherStepsAreKept() {
        var state = QueueServerState(workers: 1, prefetch: 0, preempts: true)
        _ = state.claimed([claimed("a")])
        let origin = Timestamp(secondsSince1970: 0)
        for _ in 0..<(QueueServerState.maxPendingSteps + 50) {
            _ = state.poolEvent(.jobProgress(info("a"), fraction: 0.1, message: nil), origin: origin, host: "h")
        }
        #expect(state.steps.count == QueueServerState.maxPendingSteps)
        #expect(state.poolEvent(.stopRequested(info("a"), reason: "cancelled"), origin: origin, host: "h") == .write)
        #expect(state.steps.last?.name == "stopRequested")
    }

    @Test func anEndIsWrittenAfterTheStepsThePoolSentBeforeIt() throws {
        var state = QueueServerState(workers: 1, prefetch: 0, preempts: true)
        let job = claimed("a")
        _ = state.claimed([job])
        state.handedToPool("a")
        _ = state.poolEvent(.jobProgress(info("a"), fraction: 0.5, message: nil), origin: Timestamp(secondsSince1970: 0), host: "h")
        _ = state.ended(end(job))
        // The pool's final event is not in yet: its last steps may still be on their way.
        #expect(state.nextWrite(force: false)?.ends == nil)
        let outcome = JobOutcome(id: "a", kind: "debug.echo", priority: .normal, status: .completed, attempts: 1)
        #expect(state.poolEvent(.jobCompleted(info("a"), outcome), origin: Timestamp(secondsSince1970: 0), host: "h") == .write)
        let next = state.nextWrite(force: false)
        let write = try #require(next)
        #expect(write.steps.map(\.name) == ["progress"])
        #expect(write.ends.map(\.claimed.job.id) == ["a"])
        #expect(state.nextWrite(force: false)?.ends == nil)
        state.written(write.ends)
        #expect(state.isDrained)
    }

    @Test func endsAreWrittenInBatchesOfAtMostFiveHundredInTheOrderTheyCame() throws {
        let count = QueueServerState.endsPerStatement + 20
        var state = QueueServerState(workers: count, prefetch: 0, preempts: true)
        let jobs = (0..<count).map { claimed("j\($0)") }
        _ = state.claimed(jobs)
        for job in jobs.reversed() { _ = state.ended(end(job)) }
        let first = state.nextWrite(force: false)
        #expect(first?.ends.count == QueueServerState.endsPerStatement)
        #expect(first?.ends.first?.claimed.job.id == JobID("j\(count - 1)"))
        #expect(state.nextWrite(force: false)?.ends.count == 20)
    }

    @Test func aStopEndsClaimsAndStartsAndHandsTheWaitingJobsBack() {
        var state = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        _ = state.claimed([claimed("a"), claimed("b"), claimed("urgent", priority: .critical)])
        state.stop(deadline: .now + .seconds(5))
        #expect(state.claimLimit == nil)
        #expect(state.startable().isEmpty)
        #expect(state.takeWaiting().map(\.job.id) == ["b", "urgent"])
        #expect(state.drainDeadline != nil)
        #expect(!state.isDrained)
        state.handedBack("a")
        #expect(state.isDrained)
    }
}
