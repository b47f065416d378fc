import Foundation
import Logging
import Offload
import ServiceLifecycle
import Testing
@testable import OffloadPostgres

/// Runs `body` while a `QueueServer` serves `queue` with a pool of `workers` thread workers
/// (diagnostic kinds), in a `ServiceGroup`; then shuts the group down gracefully.
func withServer<T: Sendable>(
    _ queue: PostgresQueue, workers: Int = 2, host: String = "host-\(UInt16.random(in: 0...UInt16.max))", registry: HandlerRegistry = .diagnostics,
    configure: (inout QueueServer.Configuration) -> Void = { _ in }, configurePool: (inout PoolConfiguration) -> Void = { _ in },
    _ body: (QueueServer) async throws -> T
) async throws -> T {
    var logger = Logger(label: "offload.test")
    logger.logLevel = .error
    var poolConfiguration = PoolConfiguration(
        scaling: .fixed(workers), cancellationGracePeriod: .milliseconds(500), shutdownTimeout: .seconds(10), logger: logger)
    configurePool(&poolConfiguration)
    let pool = try WorkerPool(configuration: poolConfiguration, registry: registry)
    var configuration = QueueServer.Configuration(
        host: host, heartbeat: .milliseconds(300), pollInterval: .seconds(2),
        maintenanceInterval: .milliseconds(500), drainTimeout: .seconds(10), logger: logger)
    configure(&configuration)
    let server = QueueServer(queue: queue, pool: pool, configuration: configuration)
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: pool), .init(service: server)], logger: logger))
    let running = Task { try await group.run() }
    do {
        let result = try await body(server)
        await group.triggerGracefulShutdown()
        try await running.value
        return result
    } catch {
        await group.triggerGracefulShutdown()
        _ = await running.result
        throw error
    }
}

func sleep(_ ms: Int) -> Job {
    Job(kind: "debug.sleep", payload: .json(["ms": .int(Int64(ms))]))
}

extension PostgresTests {
    @Suite struct ServerTests {
        @Test func aServerRunsJobsSubmittedByAnotherProcessAndTheirWaitersWakeOnCompletion() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema) { hostQueue in
                try await withServer(hostQueue) { _ in
                    try await withQueue(schema: schema) { submitter in
                        let ids = try await submitter.submit((0..<200).map { PostgresQueue.Submission(echo($0)) })
                        for (index, id) in ids.enumerated() {
                            let done = try await submitter.finished(id, timeout: .seconds(30))
                            #expect(done.state == .completed)
                            #expect(try done.value(as: Numbered.self).n == index)
                        }
                    }
                }
            }
        }

        @Test func twoHostsShareOneQueueAndEachJobRunsOnce() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema) { a in
                try await withQueue(schema: schema) { b in
                    try await withServer(a, host: "host-a") { _ in
                        try await withServer(b, host: "host-b") { _ in
                            let ids = try await a.submit((0..<300).map { _ in PostgresQueue.Submission(sleep(5)) })
                            var hosts: [String: Int] = [:]
                            for id in ids {
                                #expect(try await b.finished(id, timeout: .seconds(60)).state == .completed)
                                let started = try await a.events(of: id).filter { $0.type == "started" }
                                #expect(started.count == 1)
                                hosts[started.first?.host ?? "?", default: 0] += 1
                            }
                            #expect(hosts.keys.sorted() == ["host-a", "host-b"])
                        }
                    }
                }
            }
        }

        @Test func retriesRunThroughTheQueueWithTheJobsAttemptNumber() async throws {
            try await withQueue { queue in
                try await withServer(queue) { _ in
                    let id = try await queue.submit(
                        Job(
                            kind: "debug.fail", payload: .json(["times": 2]), maxRetries: 3,
                            retryPolicy: RetryPolicy(initialDelay: .milliseconds(50), jitter: 0)))
                    let done = try await queue.finished(id, timeout: .seconds(30))
                    #expect(done.state == .completed)
                    #expect(done.attempt == 3)
                    #expect(done.result == ["attempt": 3])
                    let types = try await queue.events(of: id).map(\.type)
                    #expect(types == ["queued", "started", "retryScheduled", "started", "retryScheduled", "started", "completed"])
                }
            }
        }

        @Test func aRunningJobIsCancelledFromAnotherProcess() async throws {
            let schema = TestDatabase.schema()
            try await withQueue(schema: schema) { hostQueue in
                try await withServer(hostQueue) { _ in
                    try await withQueue(schema: schema) { other in
                        let id = try await other.submit(sleep(60_000))
                        while try await other.job(id)?.state != .running { try await Task.sleep(for: .milliseconds(20)) }
                        let asked = ContinuousClock.now
                        #expect(try await other.cancel(id) == .requested)
                        let done = try await other.finished(id, timeout: .seconds(10))
                        #expect(done.state == .cancelled)
                        #expect(ContinuousClock.now - asked < .seconds(3))
                    }
                }
            }
        }

        @Test func aGracefulShutdownHandsBackJobsThatHadNotStarted() async throws {
            try await withQueue { queue in
                // 3 s each: the stop comes at the first job's first progress (300 ms), long before its end,
                // however busy the machine.
                let ids = try await queue.submit((0..<4).map { _ in PostgresQueue.Submission(sleep(3_000)) })
                try await withServer(queue, workers: 1, configure: { $0.prefetch = 3 }) { _ in
                    // Claimed is not started: the first runs once it reports progress.
                    while try await !queue.events(of: ids[0]).contains(where: { $0.type == "progress" }) {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                // The running one finished; the three it held were handed back at once, uncounted.
                #expect(try await queue.job(ids[0])?.state == .completed)
                for id in ids.dropFirst() {
                    let job = try #require(try await queue.job(id))
                    #expect(job.state == .queued)
                    #expect(job.attempt == 0)
                }
            }
        }

        @Test func aDelayedJobStartsOnTimeWithoutPolling() async throws {
            try await withQueue { queue in
                try await withServer(queue, configure: { $0.pollInterval = .seconds(30) }) { _ in
                    // Once a first job has run, the host is listening.
                    _ = try await queue.finished(try await queue.submit(echo(0)), timeout: .seconds(30))
                    let submitted = ContinuousClock.now
                    let id = try await queue.submit(echo(1, delay: .milliseconds(700)))
                    let done = try await queue.finished(id, timeout: .seconds(10))
                    #expect(done.state == .completed)
                    let took = ContinuousClock.now - submitted
                    // Woken at its time, not at the next poll (30 s): the bound leaves room for a
                    // loaded machine.
                    #expect(took >= .milliseconds(700) && took < .seconds(8))
                }
            }
        }
    }
}
