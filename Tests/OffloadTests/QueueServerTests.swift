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
    func withServer(_ queue: MemoryDurableQueue, drain: Duration = .seconds(5), heartbeat: Duration = .milliseconds(100),
                    _ body: () async throws -> Void) async throws -> Duration {
        var logger = Logger(label: "offload.test")
        logger.logLevel = .critical
        let pool = try WorkerPool(configuration: PoolConfiguration(scaling: .fixed(2), logger: logger), registry: .diagnostics)
        let server = QueueServer(queue: queue, pool: pool, configuration: QueueServer.Configuration(
            host: "test-host", heartbeat: heartbeat, pollInterval: .milliseconds(200), drainTimeout: drain, logger: logger))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: pool), .init(service: server)], logger: logger))
        let running = Task { try await group.run() }
        do { try await body() } catch {
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
        let queue = MemoryDurableQueue { end in
            guard case .object(let members)? = try? end.outcome.result?.json() else { return false }
            return members.contains { $0.key == "poison" }
        }
        let jobs = (0..<60).map { index in
            Job(kind: "debug.echo", payload: .json(index == 17 ? ["poison": .string("a\u{0}b")] : ["n": .int(Int64(index))]))
        }
        queue.submit(jobs)
        try await withServer(queue) {
            try await eventually("every job ended") {
                jobs.allSatisfy { queue.stored($0.id)?.state != .available && queue.stored($0.id)?.state != .running }
            }
        }
        for (index, job) in jobs.enumerated() where index != 17 {
            #expect(queue.stored(job.id)?.state == .completed)
            #expect(queue.stored(job.id)?.result == ["n": .int(Int64(index))])
        }
        let poisoned = try #require(queue.stored(jobs[17].id))
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
            try await eventually("the jobs run") { jobs.allSatisfy { queue.stored($0.id)?.state == .running } || queue.finishCalls.all > 0 }
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
            try await eventually("the job reports progress") { queue.stored(job.id)?.steps.contains { $0.step.isProgress } == true }
            queue.requestCancel(job.id)
            try await eventually("the job is cancelled", timeout: .seconds(5)) { queue.stored(job.id)?.state == .cancelled }
        }
        let steps = try #require(queue.stored(job.id)?.steps)
        #expect(steps.map(\.name).last == "stopRequested")
        #expect(steps.allSatisfy { $0.host == "test-host" && $0.attempt == 1 })
    }
}
