import Logging
import OffloadTestSupport
import ServiceLifecycle
import Synchronization
import Testing
@testable import Offload

/// `QueueServer` against a queue in memory: what it does when the queue refuses an end or
/// does not answer, without a database.
@Suite struct QueueServerTests {
    /// Runs `body` while a server serves `queue` with 2 thread workers (diagnostic kinds);
    /// returns how long the graceful stop took.
    @discardableResult
    func withServer(
        _ queue: MemoryDurableQueue, drain: Duration = .seconds(5), heartbeat: Duration = .milliseconds(100),
        _ body: () async throws -> Void
    ) async throws -> Duration {
        try await withServer(queue, drain: drain, heartbeat: heartbeat) { _, _ in try await body() }
    }

    @discardableResult
    func withServer(
        _ queue: MemoryDurableQueue, drain: Duration = .seconds(5), heartbeat: Duration = .milliseconds(100),
        _ body: (WorkerPool, QueueServer) async throws -> Void
    ) async throws -> Duration {
        var logger = Logger(label: "offload.test")
        logger.logLevel = .critical
        let pool = try WorkerPool(configuration: PoolConfiguration(scaling: .fixed(2), logger: logger), registry: .diagnostics)
        let server = QueueServer(
            queue: queue, pool: pool,
            configuration: QueueServer.Configuration(
                host: "test-host", heartbeat: heartbeat, pollInterval: .milliseconds(200), drainTimeout: drain, logger: logger))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: pool), .init(service: server)], logger: logger))
        let running = Task { try await group.run() }
        do { try await body(pool, server) } catch {
            await group.triggerGracefulShutdown()
            _ = await running.result
            throw error
        }
        let start = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        return ContinuousClock.now - start
    }

    func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "\(what) did not happen in \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func anEndTheQueueCannotHoldFailsAloneAndNeverHoldsBackTheOthers() async throws {
        // The "database" refuses any statement holding the poisoned result, as PostgreSQL's
        // jsonb refused \u0000: the batch is split until that end is alone.
        let queue = MemoryDurableQueue(refuses: { end in
            guard case .object(let members)? = try? end.outcome.result?.json() else { return false }
            return members.contains { $0.key == "poison" }
        })
        let jobs = (0..<60).map { index in
            Job(kind: "debug.echo", payload: .json(index == 17 ? ["poison": .string("a\u{0}b")] : ["n": .int(Int64(index))]))
        }
        queue.submit(jobs)
        try await withServer(queue) { pool, server in
            do {
                // A minute: the whole suite shares two cores, and a job's end can wait seconds.
                try await eventually("every job ended", timeout: .seconds(60)) {
                    jobs.allSatisfy { queue.entry($0.id)?.state != .queued && queue.entry($0.id)?.state != .running }
                }
            } catch {
                let left = jobs.compactMap { queue.entry($0.id) }.filter { $0.state == .queued || $0.state == .running }
                let metrics = pool.metrics
                let running = left.filter { $0.state == .running }.count
                let workers = metrics.perWorker.map { "\($0.id) \($0.state) held \($0.heldJobs) done \($0.jobsCompleted)" }
                Issue.record(
                    """
                    the pool: submitted \(metrics.submitted), completed \(metrics.completed), running \(metrics.running), \
                    queued \(metrics.queueLength), workers \(workers); the queue: \(running) running, \(left.count - running) queued, \
                    finish calls \(queue.finishCalls); the server: \(server.state.withLock { "running \($0.running.count), started \($0.started.count), ending \($0.ending.count), unwritten \($0.unwritten.count), waiting \($0.waiting.count), steps \($0.steps.count)" })
                    """)
                throw error
            }
        }
        for (index, job) in jobs.enumerated() where index != 17 {
            #expect(queue.entry(job.id)?.state == .completed)
            #expect(queue.entry(job.id)?.result == ["n": .int(Int64(index))])
        }
        let poisoned = try #require(queue.entry(jobs[17].id))
        #expect(poisoned.state == .failed)
        #expect(poisoned.error?.code == .unstorable)
        #expect(poisoned.error?.message.contains("completed") == true)
        #expect(queue.finishCalls.refused >= 1)
    }

    @Test func aQueueThatDoesNotAnswerAtTheStopIsGivenUpOnAtTheDrainDeadlineWithoutSpinning() async throws {
        let queue = MemoryDurableQueue()
        let jobs = (0..<4).map { _ in Job(kind: "debug.sleep", payload: .json(["ms": 200])) }
        queue.submit(jobs)
        let took = try await withServer(queue, drain: .seconds(1)) {
            try await eventually("the jobs run") { jobs.allSatisfy { queue.entry($0.id)?.state == .running } || queue.finishCalls.all > 0 }
            queue.isAway = true
            try await Task.sleep(for: .milliseconds(300))
        }
        // Given up on at the drain deadline (1 s here), not after a minute of retries: the bound
        // is loose because the other suites share these cores; tried with a back-off (100 ms
        // doubling), not thousands of times.
        #expect(took < .seconds(20))
        #expect(queue.finishCalls.all < 40)
    }

    @Test func aCancelTheQueueAnnouncesStopsTheJobAtOnceAndItsStepsPrecedeItsEnd() async throws {
        let queue = MemoryDurableQueue()
        let job = Job(kind: "debug.sleep", payload: .json(["ms": 20_000]))
        queue.submit([job])
        // No heartbeat comes in the test's time: only the queue's announcement can stop the job.
        try await withServer(queue, heartbeat: .seconds(120)) {
            try await eventually("the job reports progress") { queue.entry(job.id)?.history.contains { $0.step.isProgress } == true }
            queue.cancel(job.id)
            try await eventually("the job is cancelled", timeout: .seconds(5)) { queue.entry(job.id)?.state == .cancelled }
        }
        let history = try #require(queue.entry(job.id)?.history)
        #expect(history.map(\.name).filter { $0 != "progress" } == ["queued", "started", "cancelRequested", "stopRequested", "cancelled"])
        #expect(history.dropFirst().allSatisfy { $0.attempt == 1 })
    }

    /// A server of its own on `queue`, stopped gracefully by `stop()`.
    struct RunningServer {
        let group: ServiceGroup
        let task: Task<Void, any Error>

        init(
            _ queue: MemoryDurableQueue, host: String, workers: Int = 1, prefetch: Int? = nil, heartbeat: Duration = .milliseconds(100),
            maintenance: Duration = .milliseconds(100), drain: Duration = .seconds(30)
        ) throws {
            var logger = Logger(label: "offload.test")
            logger.logLevel = .critical
            let pool = try WorkerPool(configuration: PoolConfiguration(scaling: .fixed(workers), logger: logger), registry: .diagnostics)
            let server = QueueServer(
                queue: queue, pool: pool,
                configuration: QueueServer.Configuration(
                    host: host, prefetch: prefetch, heartbeat: heartbeat, pollInterval: .milliseconds(200), maintenanceInterval: maintenance,
                    drainTimeout: drain, logger: logger))
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(services: [.init(service: pool), .init(service: server)], logger: logger))
            self.group = group
            task = Task { try await group.run() }
        }

        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }
    }

    @Test func aHostThatStopsRenewingLosesTheJobToAnotherAndItsEndIsFencedOut() async throws {
        // A lease of 1.5 s renewed every 100 ms: only a host that stops renewing loses it, however
        // busy the machine.
        let queue = MemoryDurableQueue(configuration: .init(leaseDuration: .milliseconds(1_500)))
        let job = Job(kind: "debug.sleep", payload: .json(["ms": 3_000]), maxRetries: 2)
        queue.submit([job])
        // "silent" renews once, at its start, then never in the test's time; it claims nothing more while it runs.
        let silent = try RunningServer(queue, host: "silent", prefetch: 0, heartbeat: .seconds(120), maintenance: .seconds(120))
        try await eventually("the silent host runs the job") { queue.entry(job.id)?.owner == "silent" }
        let rescuer = try RunningServer(queue, host: "rescuer")
        try await eventually("the job ends on the rescuer and the silent host's end is refused") {
            queue.entry(job.id)?.state == .completed && queue.entry(job.id)?.history.contains { $0.name == "leaseLost" } == true
        }
        try await silent.stop()
        try await rescuer.stop()
        let entry = try #require(queue.entry(job.id))
        #expect(entry.state == .completed)
        #expect(entry.attempt == 2)
        let steps = entry.history.filter { !$0.step.isProgress }
        // The silent host's end is refused; the rescuer's is recorded. (Which is written first is
        // the machine's affair: the silent host ends 1.5 s before the rescuer, unless it is
        // starved that long.)
        #expect(steps.prefix(4).map(\.name) == ["queued", "started", "rescued", "started"])
        #expect(steps.prefix(4).map(\.host) == [nil, "silent", nil, "rescuer"])
        let ends = steps.dropFirst(4).map { "\($0.name) \($0.host ?? "-")" }.sorted()
        #expect(ends == ["completed rescuer", "leaseLost silent"])
        // The silent host's progress after its lease expired is fenced out: all of it is the rescuer's
        // or from before the rescue.
        let rescue = try #require(entry.history.firstIndex { $0.name == "rescued" })
        #expect(entry.history[rescue...].filter(\.step.isProgress).allSatisfy { $0.host == "rescuer" })
    }

    @Test func aGracefulStopHandsBackWhatWaitsAndLetsWhatRunsFinish() async throws {
        let queue = MemoryDurableQueue()
        // Long enough that the stop comes while the first runs, however loaded the machine.
        let jobs = (0..<3).map { _ in Job(kind: "debug.sleep", payload: .json(["ms": 6_000])) }
        queue.submit(jobs)
        let server = try RunningServer(queue, host: "leaving", workers: 1, prefetch: 2)
        // Claimed is not started: one runs once it reports progress (the others wait on the host).
        try await eventually("one runs") { jobs.contains { queue.entry($0.id)?.history.contains { $0.step.isProgress } == true } }
        try await server.stop()
        let states = jobs.compactMap { queue.entry($0.id) }
        #expect(states.filter { $0.state == .completed }.count == 1, "\(states.map { ($0.state, $0.history.map(\.name), $0.error) })")
        let handedBack = states.filter { $0.state == .queued }
        #expect(handedBack.count == 2)
        #expect(handedBack.allSatisfy { $0.attempt == 0 && $0.history.map(\.name) == ["queued", "started", "released"] })
    }

    @Test func aRetryWaitsItsBackOffOnTheQueueNotInThePool() async throws {
        let queue = MemoryDurableQueue()
        let job = Job(
            kind: "debug.fail", payload: .json(["times": 1]), maxRetries: 1,
            retryPolicy: RetryPolicy(initialDelay: .milliseconds(300), multiplier: 2, maxDelay: .seconds(1), jitter: 0))
        queue.submit([job])
        try await withServer(queue) {
            try await eventually("the job ends") { queue.entry(job.id)?.state == .completed }
        }
        let history = try #require(queue.entry(job.id)?.history)
        #expect(history.map(\.name) == ["queued", "started", "retryScheduled", "started", "completed"])
        let scheduled = history[2]
        let due = try #require(scheduled.step.time)
        #expect(abs(due.secondsSince1970 - scheduled.at.secondsSince1970 - 0.3) < 0.001)
        #expect(history[3].at.secondsSince1970 >= due.secondsSince1970)
        #expect(scheduled.error?.code == .handlerFailed)
    }
}
