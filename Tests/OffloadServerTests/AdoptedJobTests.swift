import Logging
import Offload
import OffloadServer
import OffloadTestSupport
import ServiceLifecycle
import Testing

/// The store shows every job of its pool, whoever submitted it: a program's own
/// `pool.submit` is recorded with its payload even when it ended before the store read its
/// events.
@Suite struct AdoptedJobTests {
    @Test func aJobThatEndedBeforeTheStoreLookedIsRecordedWithItsPayloadAndResult() async throws {
        let folder = temporaryFolder("adopted")
        defer { removeTree(folder) }
        var logger = Logger(label: "offload.test")
        logger.logLevel = .critical
        let pool = try WorkerPool(configuration: PoolConfiguration(isolation: .thread, scaling: .fixed(1), logger: logger), registry: .diagnostics)
        let store = JobStore(backend: try MemoryBackend(pool: pool, outputFolder: folder), pool: pool)
        let group = ServiceGroup(services: [pool], logger: logger)
        let running = Task { try await group.run() }
        // Ended, and gone from the pool, before the store reads a single event.
        let job = Job(kind: "debug.echo", payload: .json(["text": "mine"]))
        let outcome = try await pool.submit(job).outcome
        #expect(outcome.status == .completed)
        #expect(pool.job(job.id) == nil)

        let following = Task { try await store.run() }
        var view: JobView?
        for _ in 0..<500 where view?.state != .completed {
            view = try await store.job(job.id)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(view?.kind == "debug.echo")
        #expect(view?.state == .completed)
        #expect(view?.payload == ["text": "mine"])
        #expect(view?.result == ["text": "mine"])
        following.cancel()
        await group.triggerGracefulShutdown()
        _ = await running.result
        _ = await following.result
    }
}
