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

    /// The pool's event that it started a held job.
    func start(_ name: String, in state: inout QueueServerState) {
        _ = state.poolEvent(.jobStarted(info(name)), origin: Timestamp(secondsSince1970: 0), host: "h")
    }

    @Test func claimsAreSizedToFreeWorkersPlusPrefetchAndMadeOnceHalfTheRoomIsFree() {
        var state = QueueServerState(workers: 2, prefetch: 2, preempts: true)
        #expect(state.claimLimit == 4)
        let jobs = (1...4).map { claimed("j\($0)") }
        // Each worker's next job waits in the pool's queue, where the worker finds it.
        #expect(state.claimed(jobs).map(\.job.id) == ["j1", "j2", "j3", "j4"])
        #expect(state.claimLimit == nil)
        #expect(!state.waitsForWork)
        start("j1", in: &state)
        start("j2", in: &state)
        #expect(state.unstarted == 2)
        _ = state.ended(end(jobs[0]))
        // One free place in four, with jobs waiting to start: not worth a statement yet.
        #expect(state.claimLimit == nil)
        start("j3", in: &state)
        _ = state.ended(end(jobs[1]))
        #expect(state.claimLimit == 2)
        // The last one starts: nothing waits to start, a claim is due, the claim loop is woken.
        #expect(state.poolEvent(.jobStarted(info("j4")), origin: Timestamp(secondsSince1970: 0), host: "h") == .claim)
        #expect(state.unstarted == 0)
    }

    @Test func jobsPastWhatThePoolHoldsWaitHereAndTheTaskOfAnEndedOneStartsTheNext() {
        var state = QueueServerState(workers: 1, prefetch: 3, preempts: true)
        let jobs = ["a", "b", "c", "d"].map { claimed($0) }
        #expect(state.claimed(jobs).map(\.job.id) == ["a", "b"])
        #expect(state.waiting.map(\.job.id) == ["c", "d"])
        #expect(state.startNext() == nil)  // the pool holds its share
        start("a", in: &state)
        _ = state.ended(end(jobs[0]))
        #expect(state.startNext()?.job.id == "c")
        #expect(state.startNext() == nil)
        #expect(state.unstarted == 3)
    }

    @Test func aCriticalJobStartsOnABusyHostForThePoolToPreemptLowerWork() {
        var state = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        // One runs, one waits in the pool's queue; a third waits here.
        #expect(state.claimed([claimed("low", priority: .low), claimed("next")]).count == 2)
        #expect(state.claimed([claimed("normal")]).isEmpty)
        var withoutPreemption = QueueServerState(workers: 1, prefetch: 2, preempts: false)
        _ = withoutPreemption.claimed([claimed("low", priority: .low), claimed("next")])
        #expect(withoutPreemption.claimed([claimed("urgent", priority: .critical)]).isEmpty)
        // Claims come in the queue's order, critical first.
        var fresh = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        _ = fresh.claimed([claimed("low", priority: .low), claimed("next")])
        #expect(fresh.claimed([claimed("urgent", priority: .critical), claimed("later")]).map(\.job.id) == ["urgent"])
        #expect(fresh.running.count == 3)
    }

    @Test func aCancelEndsAWaitingJobAtOnceAndAsksThePoolToStopARunningOne() throws {
        var state = QueueServerState(workers: 1, prefetch: 2, preempts: true)
        _ = state.claimed([claimed("running"), claimed("inThePool"), claimed("waiting")])
        #expect(state.cancel("waiting") == [.write])
        #expect(state.ending["waiting"] != nil)
        let cancelledWrite = state.nextWrite(force: false)
        let write = try #require(cancelledWrite)
        #expect(write.ends.map(\.outcome.status) == [.cancelled])
        #expect(write.ends.first?.outcome.error?.code == .cancelled)
        #expect(state.cancel("running") == [.stopInPool("running")])
        #expect(state.cancel("inThePool") == [.stopInPool("inThePool")])
        #expect(state.cancel("unknown") == [])
        // The pool then ends it cancelled: an end of its own, not a hand-back, even while stopping.
        state.stop(deadline: .now)
        let cancelled = JobOutcome(id: "running", kind: "debug.echo", priority: .normal, status: .cancelled, attempts: 1)
        #expect(!state.isHandedBack(claimed("running"), cancelled))
        #expect(state.isHandedBack(claimed("other"), cancelled))
    }

    @Test func aLostLeaseDropsAWaitingJobAndStopsOneThePoolHas() {
        var state = QueueServerState(workers: 1, prefetch: 3, preempts: true)
        _ = state.claimed([claimed("a"), claimed("b"), claimed("c"), claimed("d")])
        let actions = state.renewed(LeaseRenewal(lost: ["a", "c"], cancelRequested: ["d"]))
        #expect(actions.contains(.stopInPool("a")))
        #expect(!actions.contains(.stopInPool("c")))
        #expect(state.waiting.isEmpty)
        #expect(state.ending["d"] != nil)  // cancelled while waiting
        #expect(state.held.map(\.job.id).sorted { $0.rawValue < $1.rawValue } == ["a", "b", "d"])
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

    @Test func aHostWhoseEndsAreNotWrittenStopsClaimingAtTwoStatementsWorth() throws {
        var state = QueueServerState(workers: 2, prefetch: 0, preempts: true)
        let ends = QueueServerState.endsPerStatement
        for index in 0..<QueueServerState.maxUnwrittenEnds {
            #expect(state.claimLimit == 2, "after \(index) ends")
            let job = claimed("j\(index)")
            _ = state.claimed([job])
            start("j\(index)", in: &state)
            _ = state.ended(end(job))
        }
        // Every worker is free, but the queue still counts 1,000 of this host's jobs as running.
        #expect(state.claimLimit == nil)
        #expect(!state.waitsForWork)
        let next = state.nextWrite(force: false)
        let write = try #require(next)
        #expect(write.ends.count == ends)
        #expect(state.claimLimit == nil)  // being written: still held
        state.written(write.ends)
        #expect(state.claimLimit == 2)
        #expect(state.waitsForWork)
    }

    @Test func aStopEndsClaimsAndStartsAndHandsBackWhatHasNotStarted() {
        var state = QueueServerState(workers: 1, prefetch: 3, preempts: true)
        _ = state.claimed([claimed("a"), claimed("b"), claimed("c"), claimed("d")])
        start("a", in: &state)
        state.stop(deadline: .now + .seconds(5))
        #expect(state.claimLimit == nil)
        #expect(state.startable().isEmpty)
        #expect(state.startNext() == nil)
        #expect(state.takeWaiting().map(\.job.id) == ["c", "d"])
        #expect(state.unstartedInPool == ["b"])
        #expect(state.drainDeadline != nil)
        #expect(!state.isDrained)
        state.handedBack("a")
        state.handedBack("b")
        #expect(state.isDrained)
    }
}
