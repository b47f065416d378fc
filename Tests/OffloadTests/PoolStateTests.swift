import Synchronization
import Testing
@testable import Offload

/// The pool's state machine on its own: events and a clock in, actions out. No thread, no
/// process, no sleep: every expectation holds to the nanosecond on any machine.
@Suite struct PoolStateTests {
    private func sleep(
        _ id: JobID, _ priority: Priority = .normal, timeout: Duration? = nil, retries: Int = 0,
        backoff: Duration = .milliseconds(100)
    ) -> Job {
        Job(
            id: id, kind: "debug.sleep", payload: .json(["ms": 1]), priority: priority, timeout: timeout, maxRetries: retries,
            retryPolicy: RetryPolicy(initialDelay: backoff, multiplier: 2, maxDelay: .seconds(10), jitter: 0))
    }

    private func configuration(workers: Int = 1, _ change: (inout PoolConfiguration) -> Void = { _ in }) -> PoolConfiguration {
        var configuration = PoolConfiguration(scaling: .fixed(workers), cancellationGracePeriod: .milliseconds(300))
        change(&configuration)
        return configuration
    }

    @Test func jobsWaitForAReadyWorkerThenGoInPriorityOrder() {
        var pool = PoolStateHarness(configuration())
        pool.start()
        #expect(pool.workers.map(\.calls) == [[.start]])
        for (id, priority) in [("low", Priority.low), ("normal", .normal), ("critical", .critical), ("high", .high)] {
            pool.submit(sleep(JobID(id), priority))
        }
        let w1 = pool.workers[0]
        #expect(w1.held.isEmpty, "nothing is handed to a worker that is not ready")
        pool.ready(w1.id)
        var order: [JobID] = []
        while let running = w1.held.first {
            order.append(running.job.id)
            pool.complete(w1.id, running.job.id)
        }
        #expect(order == ["critical", "high", "normal", "low"])
        #expect(pool.eventNames(of: "low") == ["queued", "started", "completed"])
        #expect(pool.state.counters.completed == 4)
    }

    @Test func agingLetsALongWaitingLowJobPassAFreshHighOne() {
        var pool = PoolStateHarness(configuration { $0.agingInterval = .seconds(1) })
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("first"))
        pool.submit(sleep("old-low", .low))
        pool.advance(by: .milliseconds(2_500))
        pool.submit(sleep("new-high", .high))
        pool.complete(w1, "first")
        // 2.5 s of waiting is worth two levels: low + 2 = high, and it came first.
        #expect(pool.worker(w1).held.map(\.job.id) == ["old-low"])
    }

    @Test func criticalWorkPreemptsTheLeastUrgentJobWhichGoesBackWithoutARetry() {
        var pool = PoolStateHarness(configuration(workers: 2))
        pool.startReady()
        let (w1, w2) = (pool.workers[0].id, pool.workers[1].id)
        pool.submit(sleep("normal"))
        pool.advance(by: .milliseconds(1))
        pool.submit(sleep("low", .low))
        #expect(pool.worker(w1).held.map(\.job.id) == ["normal"])
        #expect(pool.worker(w2).held.map(\.job.id) == ["low"])
        pool.submit(sleep("urgent", .critical))
        #expect(pool.worker(w2).calls.last == .cancel("low"), "the least urgent job is asked to give way")
        #expect(!pool.worker(w1).calls.contains(.cancel("normal")))
        #expect(pool.eventNames(of: "low").last == "stopRequested")
        // It stops as asked: back to the queue, its attempt given back, the critical job next on its worker.
        pool.finish(w2, "low", .failure(CancellationError()))
        #expect(pool.worker(w2).held.map(\.job.id) == ["urgent"])
        #expect(pool.state.counters.preempted == 1)
        pool.complete(w2, "urgent")
        #expect(pool.worker(w2).held.map { "\($0.job.id)#\($0.attempt)" } == ["low#1"])
        pool.complete(w2, "low")
        #expect(pool.outcome("low")?.status == .completed)
        #expect(pool.outcome("low")?.attempts == 1)
        #expect(pool.eventNames(of: "low") == ["queued", "started", "stopRequested", "preempted", "started", "completed"])
    }

    @Test func aJobThatDoesNotGiveWayIsLetFinishAndNotAskedAgain() {
        var pool = PoolStateHarness(configuration())
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("low", .low))
        pool.submit(sleep("urgent", .critical))
        #expect(pool.worker(w1).calls.last == .cancel("low"))
        pool.advance(by: .milliseconds(299))
        pool.tick()
        #expect(pool.state.workers[0].running?.stopReason == .preempted)
        pool.advance(by: .milliseconds(1))
        pool.tick()
        // Past the grace period a thread worker is not abandoned for a preemption: the job runs on.
        #expect(pool.state.workers[0].running?.stopReason == nil)
        #expect(pool.state.workers[0].running?.refusedPreemption == true)
        #expect(!pool.worker(w1).calls.contains(.abandon))
        pool.submit(sleep("urgent-2", .critical))
        #expect(pool.worker(w1).calls.filter { $0 == .cancel("low") }.count == 1, "not asked a second time")
        pool.complete(w1, "low")
        #expect(pool.outcome("low")?.status == .completed)
        #expect(pool.worker(w1).held.map(\.job.id) == ["urgent"])
    }

    @Test func aThreadJobPastItsTimeoutIsAskedToStopThenItsWorkerIsAbandonedAndReplaced() {
        var pool = PoolStateHarness(configuration())
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("slow", timeout: .milliseconds(100)))
        pool.submit(sleep("next"))
        pool.advance(by: .milliseconds(99))
        pool.tick()
        #expect(!pool.worker(w1).calls.contains(.cancel("slow")))
        pool.advance(by: .milliseconds(1))
        pool.tick()
        #expect(pool.worker(w1).calls.last == .cancel("slow"))
        // The grace period: the supervisor's wake-ups on the way abandon nothing until its end.
        let graceEnds = pool.now + .milliseconds(300)
        while pool.nextTick < graceEnds {
            pool.tickWhenDue()
            #expect(pool.worker(w1).calls.last == .cancel("slow"))
        }
        #expect(pool.nextTick == graceEnds, "the supervisor wakes at the end of the grace period")
        pool.tickWhenDue()
        #expect(pool.worker(w1).calls.last == .abandon)
        #expect(pool.outcome("slow")?.error?.code == .timedOut)
        // A replacement starts; the queued job waits for it.
        #expect(pool.live.count == 1 && pool.live[0] != w1)
        let w2 = pool.live[0]
        pool.ready(w2)
        #expect(pool.worker(w2).held.map(\.job.id) == ["next"])
    }

    @Test func aProcessJobPastItsTimeoutHasItsWorkerKilledAtTheDeadline() {
        var pool = PoolStateHarness(configuration { $0.isolation = .process })
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("slow", timeout: .milliseconds(100), retries: 1, backoff: .milliseconds(50)))
        pool.advance(by: .milliseconds(100))
        pool.tick()
        #expect(pool.worker(w1).calls.last == .abandon)
        #expect(pool.outcome("slow") == nil, "it has a retry left")
        let w2 = pool.live[0]
        pool.ready(w2)
        #expect(pool.worker(w2).held.isEmpty, "the retry waits for its back-off")
        pool.advance(by: .milliseconds(50))
        pool.tick()
        #expect(pool.worker(w2).held.map { "\($0.job.id)#\($0.attempt)" } == ["slow#2"])
    }

    @Test func retriesWaitForTheirBackOffThenFailForGood() {
        var pool = PoolStateHarness(configuration())
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("flaky", retries: 2, backoff: .milliseconds(100)))
        pool.finish(w1, "flaky", .failure(OffloadError(.handlerFailed, "no")))
        #expect(pool.nextTick <= pool.now + .milliseconds(100) || pool.state.supervisorWakeAt == pool.now + .milliseconds(100))
        pool.advance(by: .milliseconds(99))
        pool.tick()
        #expect(pool.worker(w1).held.isEmpty)
        pool.advance(by: .milliseconds(1))
        pool.tick()
        #expect(pool.worker(w1).held.map(\.attempt) == [2])
        pool.finish(w1, "flaky", .failure(OffloadError(.handlerFailed, "no")))
        pool.advance(by: .milliseconds(199))
        pool.tick()
        #expect(pool.worker(w1).held.isEmpty, "the second back-off is twice the first")
        pool.advance(by: .milliseconds(1))
        pool.tick()
        pool.finish(w1, "flaky", .failure(OffloadError(.handlerFailed, "no")))
        #expect(pool.outcome("flaky")?.status == .failed)
        #expect(pool.outcome("flaky")?.attempts == 3)
        #expect(pool.eventNames(of: "flaky") == ["queued", "started", "retryScheduled", "started", "retryScheduled", "started", "failed"])
    }

    @Test func aDrainFinishesQueuedAndRunningJobsThenStopsTheWorkers() {
        var pool = PoolStateHarness(configuration())
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("running"))
        pool.submit(sleep("queued"))
        pool.beginShutdown(timeout: .seconds(5))
        let accepting = pool.inbox.accepting.load(ordering: .relaxed)
        #expect(!accepting, "no new jobs")
        pool.complete(w1, "running")
        #expect(pool.worker(w1).held.map(\.job.id) == ["queued"], "queued work still runs while draining")
        #expect(!pool.worker(w1).calls.contains(.stop))
        pool.complete(w1, "queued")
        #expect(pool.worker(w1).calls.last == .stop)
        #expect(pool.state.phase == .stopping)
        pool.exited(w1)
        #expect(pool.state.phase == .stopped)
    }

    @Test func aDrainPastItsDeadlineCancelsTheRestAndStopsRunningJobs() {
        var pool = PoolStateHarness(configuration())
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("running"))
        pool.submit(sleep("queued"))
        pool.beginShutdown(timeout: .milliseconds(500))
        pool.advance(by: .milliseconds(500))
        pool.tick()
        #expect(pool.outcome("queued")?.status == .cancelled)
        #expect(pool.worker(w1).calls.last == .cancel("running"))
        pool.finish(w1, "running", .failure(CancellationError()))
        #expect(pool.outcome("running")?.status == .cancelled)
        #expect(pool.worker(w1).calls.last == .stop)
    }

    @Test func workersThatKeepFailingToStartFailTheQueueAndBackOff() {
        var pool = PoolStateHarness(configuration())
        pool.start()
        pool.submit(sleep("waiting"))
        for attempt in 1...3 {
            let id = pool.live[0]
            pool.exited(id, cause: OffloadError(.workerStartFailed, "no such executable"))
            if attempt < 3 { #expect(pool.live.count == 1, "replaced at once") }
        }
        #expect(pool.outcome("waiting")?.error?.code == .workerStartFailed)
        #expect(pool.outcome("waiting")?.error?.message.contains("no such executable") == true)
        #expect(pool.live.isEmpty, "the next start waits 100 ms")
        pool.advance(by: .milliseconds(99))
        pool.tick()
        #expect(pool.live.isEmpty)
        pool.advance(by: .milliseconds(1))
        pool.tick()
        #expect(pool.live.count == 1)
        // Another failure doubles the wait.
        pool.exited(pool.live[0], cause: OffloadError(.workerStartFailed, "still not"))
        pool.advance(by: .milliseconds(199))
        pool.tick()
        #expect(pool.live.isEmpty)
        pool.advance(by: .milliseconds(1))
        pool.tick()
        #expect(pool.live.count == 1)
    }

    @Test func scalingAddsWorkersForAQueueAndRetiresIdleOnes() {
        var pool = PoolStateHarness(
            configuration {
                $0.scaling = ScalingConfiguration(minWorkers: 1, maxWorkers: 3, idleTimeout: .milliseconds(100), checkInterval: .milliseconds(10))
            })
        pool.startReady()
        let w1 = pool.workers[0].id
        for index in 0..<10 { pool.submit(sleep(JobID("j\(index)"))) }
        pool.advance(by: .milliseconds(10))
        pool.tick()
        #expect(pool.live.count == 3, "two more for ten waiting jobs (at most two a check)")
        for id in pool.live where id != w1 { pool.ready(id) }
        #expect(pool.state.workers.allSatisfy { $0.running != nil })
        // Everything done: after the idle timeout, back to the minimum, one worker a check.
        while let busy = pool.state.workers.first(where: { $0.running != nil }) {
            pool.complete(busy.id, busy.running!.id)
        }
        pool.advance(by: .milliseconds(100))
        pool.tick()
        #expect(pool.workers.filter { $0.calls.last == .stop }.count == 1)
        pool.advance(by: .milliseconds(10))
        pool.tick()
        #expect(pool.workers.filter { $0.calls.last == .stop }.count == 2)
        pool.advance(by: .milliseconds(10))
        pool.tick()
        #expect(pool.workers.filter { $0.calls.last == .stop }.count == 2, "the minimum stays")
    }

    @Test func aCancelledQueuedJobEndsAtOnceAndARunningOneIsAskedToStop() {
        var pool = PoolStateHarness(configuration())
        pool.startReady()
        let w1 = pool.workers[0].id
        pool.submit(sleep("running"))
        pool.submit(sleep("queued"))
        let queuedFound = pool.cancel("queued")
        #expect(queuedFound)
        #expect(pool.outcome("queued")?.status == .cancelled)
        let runningFound = pool.cancel("running")
        #expect(runningFound)
        #expect(pool.worker(w1).calls.last == .cancel("running"))
        pool.finish(w1, "running", .failure(CancellationError()))
        #expect(pool.outcome("running")?.status == .cancelled)
        let endedFound = pool.cancel("running")
        #expect(!endedFound, "an ended job is no longer the pool's")
    }

    @Test func aWorkerProcessThatDiesGivesBackTheJobsItHeld() {
        var pool = PoolStateHarness(
            configuration {
                $0.isolation = .process
                $0.workerProcess.prefetch = 3
            })
        pool.startReady()
        let w1 = pool.workers[0].id
        for id in ["a", "b", "c"] { pool.submit(sleep(JobID(id), retries: 1, backoff: .zero)) }
        #expect(
            pool.worker(w1).held.map { "\($0.job.id):\($0.announcesStart)" } == ["a:false", "b:true", "c:true"],
            "jobs behind the first are held, and announce their start")
        pool.exited(w1, cause: OffloadError(.workerCrashed, "died by signal 9"))
        // The running job is retried (it had a retry); the held ones go back untouched.
        let w2 = pool.live[0]
        pool.ready(w2)
        pool.tick()
        #expect(Set(pool.worker(w2).held.map { "\($0.job.id)#\($0.attempt)" }) == ["a#2", "b#1", "c#1"])
    }
}
