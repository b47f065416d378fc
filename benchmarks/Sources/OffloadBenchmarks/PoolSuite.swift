import Offload

/// `pool`: tiny-job throughput of a thread-isolated `WorkerPool` with 2 workers against a bare
/// `withTaskGroup` doing the same jobs, alternating in one run; and the submit→result latency
/// of one `debug.echo` job on an idle pool.
struct PoolSuite {
    let jobs: Int
    let rounds: Int

    /// The work each job does, the same for both contenders.
    @inline(never)
    static func work(_ value: Int) -> Int { value &* 2 &+ 1 }

    struct Double: JobHandler {
        static let kind = "bench.double"
        func run(_ payload: Int, context: JobContext) async throws -> Int { PoolSuite.work(payload) }
    }

    func run() async throws {
        var registry = HandlerRegistry.diagnostics
        try registry.register(Double())
        var configuration = PoolConfiguration(scaling: .fixed(2))
        configuration.preemption = false
        var ours: [Swift.Double] = []
        var peer: [Swift.Double] = []
        for round in 1...rounds {
            let poolRate = try await poolThroughput(configuration: configuration, registry: registry)
            let groupRate = await taskGroupThroughput()
            ours.append(poolRate)
            peer.append(groupRate)
            Report.line([
                ("suite", .string("pool")), ("round", .int(round)), ("jobs", .int(jobs)),
                ("workerPoolJobsPerSecond", .number(poolRate)), ("taskGroupJobsPerSecond", .number(groupRate))
            ])
        }
        let (latency, detached) = try await echoLatency(registry: registry)
        Report.line([
            ("suite", .string("pool")), ("latencySamples", .int(latency.count)),
            ("echoP50Micros", .number(latency.p50)), ("echoP99Micros", .number(latency.p99)),
            ("detachedP50Micros", .number(detached.p50)), ("detachedP99Micros", .number(detached.p99))
        ])
        let (oursMedian, peerMedian) = (Report.median(ours), Report.median(peer))
        Report.summary(
            suite: "pool", figure: "tiny-job throughput, WorkerPool (2 thread workers) ÷ withTaskGroup",
            ours: oursMedian, peer: peerMedian, ratio: oursMedian / peerMedian, goal: ">= 1.0", unit: "jobs/s")
        Report.summary(
            suite: "pool", figure: "submit→result latency of debug.echo on an idle pool, p50 ÷ a bare Task.detached { }.value round trip",
            ours: latency.p50, peer: detached.p50, ratio: latency.p50 / detached.p50, goal: "<= 1.5", unit: "µs")
    }

    private func poolThroughput(configuration: PoolConfiguration, registry: HandlerRegistry) async throws -> Swift.Double {
        try await WorkerPool.withPool(configuration: configuration, registry: registry) { pool in
            try await waitForWorkers(pool, count: 2)
            let start = ContinuousClock.now
            var handles: [JobHandle<JSONValue>] = []
            handles.reserveCapacity(jobs)
            for value in 0..<jobs {
                handles.append(try await pool.submit(Job(id: JobID("b\(value)"), kind: "bench.double", payload: .value(value))))
            }
            var sum = 0
            for handle in handles { sum &+= try await handle.value(as: Int.self) }
            let elapsed = ContinuousClock.now - start
            precondition(sum == expectedSum, "wrong results from the pool")
            return Swift.Double(jobs) / elapsed.secondsValue
        }
    }

    private func taskGroupThroughput() async -> Swift.Double {
        let start = ContinuousClock.now
        let sum = await withTaskGroup(of: Int.self) { group in
            for value in 0..<jobs { group.addTask { PoolSuite.work(value) } }
            var sum = 0
            for await result in group { sum &+= result }
            return sum
        }
        let elapsed = ContinuousClock.now - start
        precondition(sum == expectedSum, "wrong results from the task group")
        return Swift.Double(jobs) / elapsed.secondsValue
    }

    private var expectedSum: Int { (0..<jobs).reduce(0) { $0 &+ PoolSuite.work($1) } }

    struct Percentiles {
        var p50: Swift.Double
        var p99: Swift.Double
        var count: Int
        init(_ samples: [Swift.Double]) {
            let sorted = samples.sorted()
            (p50, p99, count) = (sorted[sorted.count / 2], sorted[sorted.count * 99 / 100], sorted.count)
        }
    }

    /// One `debug.echo` at a time through a 1-worker pool, alternating blocks of 100 with a bare
    /// `Task.detached { }.value` round trip (the floor an async hand-off to another thread costs).
    private func echoLatency(registry: HandlerRegistry) async throws -> (echo: Percentiles, detached: Percentiles) {
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            try await waitForWorkers(pool, count: 1)
            var echo: [Swift.Double] = []
            var detached: [Swift.Double] = []
            for block in 0..<200 {
                for index in 0..<100 {
                    let start = ContinuousClock.now
                    let outcome = try await pool.process(Job(kind: "debug.echo", payload: .json(.int(Int64(block * 100 + index)))))
                    precondition(outcome.status == .completed)
                    echo.append((ContinuousClock.now - start).secondsValue * 1e6)
                }
                for index in 0..<100 {
                    let start = ContinuousClock.now
                    let value = await Task.detached { PoolSuite.work(index) }.value
                    precondition(value == PoolSuite.work(index))
                    detached.append((ContinuousClock.now - start).secondsValue * 1e6)
                }
            }
            return (Percentiles(echo), Percentiles(detached))
        }
    }

    private func waitForWorkers(_ pool: WorkerPool, count: Int) async throws {
        while pool.metrics.workers < count { try await Task.sleep(for: .milliseconds(1)) }
    }
}

extension Duration {
    var secondsValue: Swift.Double {
        Swift.Double(components.seconds) + Swift.Double(components.attoseconds) * 1e-18
    }
}
