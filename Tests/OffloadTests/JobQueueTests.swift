import OffloadTestSupport
import Testing
@testable import Offload

@Suite struct JobQueueTests {
    let t0 = ContinuousClock.now

    func job(_ id: String, _ priority: Priority) -> Job { Job(id: JobID(id), kind: "k", priority: priority) }

    @Test func priorityOrderThenFIFOWithinALevel() {
        var queue = JobQueue<Job>(agingInterval: nil, epoch: t0)
        for (index, priority) in [Priority.low, .high, .normal, .critical, .high, .low, .critical].enumerated() {
            queue.enqueue(job("j\(index)", priority), now: t0 + .milliseconds(index))
        }
        var order: [String] = []
        while let next = queue.dequeue(now: t0 + .seconds(1)) { order.append(next.id.rawValue) }
        #expect(order == ["j3", "j6", "j1", "j4", "j2", "j0", "j5"])
    }

    @Test func agingServesAWaitingLowJobBeforeNewHighOnes() {
        var queue = JobQueue<Job>(agingInterval: .seconds(1), epoch: t0)
        queue.enqueue(job("old-low", .low), now: t0)
        // High jobs keep arriving; after 2 s of waiting the low job outranks new high work.
        queue.enqueue(job("high-early", .high), now: t0 + .milliseconds(500))
        queue.enqueue(job("high-late", .high), now: t0 + .milliseconds(2_500))
        let now = t0 + .seconds(3)
        #expect(queue.dequeue(now: now)?.id == "high-early")
        #expect(queue.dequeue(now: now)?.id == "old-low")
        #expect(queue.dequeue(now: now)?.id == "high-late")
    }

    @Test func delayedJobsAreKeptWholeAndReleasedWhenDue() throws {
        var queue = JobQueue<Job>(epoch: t0)
        var delayed = Job(id: "later", kind: "debug.echo", payload: .json(.string("kept")))
        delayed.priority = .critical
        queue.enqueue(delayed, now: t0, runAt: t0 + .milliseconds(300))
        queue.enqueue(job("now", .low), now: t0)
        #expect(queue.delayedCount == 1)
        #expect(queue.dequeue(now: t0 + .milliseconds(100))?.id == "now")
        #expect(queue.dequeue(now: t0 + .milliseconds(299)) == nil)
        #expect(queue.nextDueTime() == t0 + .milliseconds(300))
        let released = queue.dequeue(now: t0 + .milliseconds(300))
        #expect(released?.id == "later")
        #expect(released?.kind == "debug.echo")
        #expect(try released?.payload.json() == .string("kept"))
    }

    @Test func removingAQueuedJob() {
        var queue = JobQueue<Job>(epoch: t0)
        queue.enqueue(job("a", .high), now: t0)
        queue.enqueue(job("b", .high), now: t0)
        #expect(queue.remove("a")?.id == "a")
        #expect(queue.remove("a") == nil)
        #expect(queue.readyCount(of: .high) == 1)
        #expect(queue.dequeue(now: t0)?.id == "b")
        #expect(queue.isEmpty)
    }

    @Test func lanesKeepJobsForCapableWorkers() {
        var queue = JobQueue<Job>(epoch: t0)
        queue.enqueue(job("gpu", .critical), lane: QueueLane(["gpu"]), now: t0)
        queue.enqueue(job("plain", .low), now: t0)
        #expect(queue.dequeue(now: t0, where: { $0.isServed(by: []) })?.id == "plain")
        #expect(queue.dequeue(now: t0, where: { $0.isServed(by: []) }) == nil)
        #expect(queue.dequeue(now: t0, where: { $0.isServed(by: ["gpu"]) })?.id == "gpu")
    }

    @Test func holdsAMillionJobs() async {
        let t0 = self.t0
        // On a thread of its own: a million jobs keep a core busy for seconds.
        let (count, critical, taken, outOfOrder) = await onOwnThread { () -> (Int, Int, Int, Int) in
            var queue = JobQueue<Job>(epoch: t0)
            let priorities = Priority.allCases
            for index in 0..<1_000_000 {
                queue.enqueue(Job(id: JobID("m\(index)"), kind: "k", priority: priorities[index & 3]), now: t0)
            }
            let (count, critical) = (queue.count, queue.readyCount(of: .critical))
            var last = Priority.critical
            var (taken, outOfOrder) = (0, 0)
            while let next = queue.dequeue(now: t0) {
                if next.priority > last { outOfOrder += 1 }
                last = next.priority
                taken += 1
            }
            return (count, critical, taken, outOfOrder)
        }
        #expect(count == 1_000_000 && critical == 250_000)
        #expect(taken == 1_000_000 && outOfOrder == 0)
    }
}

@Suite struct RetryAndScalingTests {
    @Test func backoffIsExponentialCappedAndJittered() {
        let policy = RetryPolicy(initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .milliseconds(500), jitter: 0.5)
        #expect(policy.delay(beforeRetry: 1, random: { 0.5 }) == .milliseconds(100))
        #expect(policy.delay(beforeRetry: 3, random: { 0.5 }) == .milliseconds(400))
        #expect(policy.delay(beforeRetry: 10, random: { 0.5 }) == .milliseconds(500))
        #expect(abs(policy.delay(beforeRetry: 1, random: { 0 }).milliseconds - 50) < 0.001)
        #expect(abs(policy.delay(beforeRetry: 1, random: { 1 }).milliseconds - 150) < 0.001)
    }

    @Test func scalerGrowsWithTheQueueAndShrinksAfterIdleTimeout() {
        let t0 = ContinuousClock.now
        let scaler = Scaler(configuration: ScalingConfiguration(minWorkers: 1, maxWorkers: 4, maxScaleUpPerCycle: 2, idleTimeout: .seconds(10)))
        let busy = [Scaler.WorkerLoad(id: WorkerID("w1"), isBusy: true, idleSince: t0)]
        #expect(scaler.decide(now: t0, workers: busy, starting: 0, readyJobs: 10).add == 2)
        #expect(scaler.decide(now: t0, workers: busy, starting: 3, readyJobs: 100).add == 0)
        #expect(scaler.decide(now: t0, workers: busy, starting: 0, readyJobs: 0).add == 0)
        let idle = [
            Scaler.WorkerLoad(id: WorkerID("w1"), isBusy: false, idleSince: t0),
            Scaler.WorkerLoad(id: WorkerID("w2"), isBusy: false, idleSince: t0 + .seconds(5))
        ]
        #expect(scaler.decide(now: t0 + .seconds(9), workers: idle, starting: 0, readyJobs: 0).retire.isEmpty)
        #expect(scaler.decide(now: t0 + .seconds(12), workers: idle, starting: 0, readyJobs: 0).retire == [WorkerID("w1")])
        #expect(scaler.decide(now: t0 + .seconds(20), workers: [idle[0]], starting: 0, readyJobs: 0).retire.isEmpty)
    }
}
