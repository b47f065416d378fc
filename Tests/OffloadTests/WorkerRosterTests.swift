import Testing
@testable import Offload

/// The pool's workers as a sub-machine: which profile the next worker takes, the back-off while
/// workers fail to start, recycling, and what the scaler sees. No pool, no thread.
@Suite struct WorkerRosterTests {
    let start = ContinuousClock.now

    func slot(_ roster: inout WorkerRoster, profile: Int, ready: Bool = true, at time: ContinuousClock.Instant? = nil) -> WorkerSlot {
        let id = roster.nextID()
        let slot = WorkerSlot(
            worker: FakeWorker(id: id, pid: 0), profile: profile, capabilities: roster.profiles[profile], capacity: 1,
            startedAt: time ?? start)
        if ready { slot.state = .idle }
        roster.append(slot)
        return slot
    }

    @Test func workersAreNumberedAndTakeTheProfileWithTheFewest() {
        var roster = WorkerRoster(profiles: [["a"], ["b"], ["c"]])
        #expect(roster.profilesWithoutWorkers == [0, 1, 2])
        #expect(roster.profileToStart == 0)
        _ = slot(&roster, profile: 0)
        _ = slot(&roster, profile: 2)
        #expect(roster.profileToStart == 1)
        #expect(roster.profilesWithoutWorkers == [1])
        let third = slot(&roster, profile: 1)
        #expect(third.id == WorkerID("w3"))
        // A worker asked to end no longer counts.
        third.stopping = true
        #expect(roster.profilesWithoutWorkers == [1])
        #expect(roster.index(of: WorkerID("w2")) == 1)
    }

    @Test func workersThatFailToStartBackOffFromTheThirdInARowUntilOneIsReady() {
        var roster = WorkerRoster(profiles: [[]])
        #expect(roster.workerFailedToStart(now: start) == nil)
        #expect(roster.workerFailedToStart(now: start) == nil)
        #expect(roster.mayStart(now: start))
        let waits = (0..<10).map { _ in roster.workerFailedToStart(now: start)! - start }
        #expect(waits == [100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000, 10_000].map { Duration.milliseconds($0) })
        #expect(!roster.mayStart(now: start + .seconds(9)))
        #expect(roster.mayStart(now: start + .seconds(10)))
        #expect(roster.startFailuresInRow == 12)
        roster.workerReady()
        #expect(roster.startFailuresInRow == 0)
        #expect(roster.respawnAfter == nil)
        #expect(roster.workerFailedToStart(now: start) == nil)
    }

    @Test func aWorkerIsRecycledAfterItsJobsOrItsLifetime() {
        var byJobs = WorkerRoster(profiles: [[]], maxJobsPerWorker: 3)
        let worker = slot(&byJobs, profile: 0)
        worker.jobsCompleted = 2
        #expect(!byJobs.shouldRecycle(0, now: start + .seconds(3_600)))
        worker.jobsCompleted = 3
        #expect(byJobs.shouldRecycle(0, now: start))
        // Only idle workers past their lifetime are recycled by the clock; jobs are counted as each ends.
        #expect(byJobs.agedIdleWorkers(now: start + .seconds(3_600)).isEmpty)

        var byAge = WorkerRoster(profiles: [[]], maxLifetime: .seconds(60))
        let idle = slot(&byAge, profile: 0)
        let busy = slot(&byAge, profile: 0)
        busy.state = .busy
        #expect(byAge.agedIdleWorkers(now: start + .seconds(59)).isEmpty)
        #expect(byAge.agedIdleWorkers(now: start + .seconds(60)) == [0])
        idle.stopping = true
        #expect(byAge.agedIdleWorkers(now: start + .seconds(60)).isEmpty)
    }

    @Test func theScalerSeesReadyWorkersAndWhichAreTheLastOfTheirProfile() {
        var roster = WorkerRoster(profiles: [["a"], ["b"]])
        _ = slot(&roster, profile: 0)
        _ = slot(&roster, profile: 0)
        _ = slot(&roster, profile: 1)
        _ = slot(&roster, profile: 1, ready: false)
        let (loads, starting) = roster.loads
        #expect(starting == 1)
        #expect(loads.map(\.id) == ["w1", "w2", "w3"].map(WorkerID.init))
        #expect(loads.map(\.isLastOfItsProfile) == [false, false, false])
        roster[3].stopping = true
        #expect(roster.loads.workers.map(\.isLastOfItsProfile) == [false, false, true])
        #expect(roster.loads.starting == 0)
    }
}
