import OffloadTestSupport
import Testing
@testable import Offload

/// Limits per kind in a pool (concurrency, rate, pause) and on a durable queue in memory: a
/// held-back job waits, never fails, and the other kinds go on.
@Suite(.timeLimit(.minutes(1))) struct KindLimitsTests {
    /// Start and end times of each job of `kind` until `count` of them ended.
    private func runs(of kind: String, count: Int, in events: AsyncStream<PoolEvent>) async -> [(start: Double, end: Double)] {
        var started: [JobID: Double] = [:]
        var runs: [(start: Double, end: Double)] = []
        for await event in events {
            switch event {
            case .jobStarted(let info) where info.kind == kind: started[info.job] = info.time.seconds
            case .jobCompleted(let info, _) where info.kind == kind:
                runs.append((started[info.job] ?? .nan, info.time.seconds))
                if runs.count == count { return runs }
            default: break
            }
        }
        return runs
    }

    @Test func aKindLimitedToTwoRunsTwoAtOnceAndTheOthersGoPast() async throws {
        try await withTestPool(workers: 4, configure: { $0.kindLimits["debug.sleep"] = KindLimits(maxConcurrent: 2) }) { pool in
            let events = pool.events()
            for index in 0..<8 { _ = try await pool.submit(sleepJob("s\(index)", 250)) }
            var echoes: [JobHandle<JSONValue>] = []
            for index in 0..<20 { echoes.append(try await pool.submit(Job(kind: "debug.echo", payload: .json(["n": .int(Int64(index))])))) }
            var starts: [(kind: String, at: Double)] = []
            var sleeps: [JobID: Double] = [:]
            var runs: [(start: Double, end: Double)] = []
            for await event in events {
                switch event {
                case .jobStarted(let info):
                    starts.append((info.kind, info.time.seconds))
                    if info.kind == "debug.sleep" { sleeps[info.job] = info.time.seconds }
                case .jobCompleted(let info, _) where info.kind == "debug.sleep":
                    runs.append((sleeps[info.job] ?? .nan, info.time.seconds))
                default: break
                }
                if runs.count == 8 { break }
            }
            #expect(mostAtOnce(runs) == 2)
            // The echoes went past the held sleeps: every one started before the last two sleeps,
            // which waited for six others to end.
            let lastEcho = try #require(starts.filter { $0.kind == "debug.echo" }.map(\.at).max())
            let sleepStarts = starts.filter { $0.kind == "debug.sleep" }.map(\.at).sorted()
            #expect(lastEcho < sleepStarts[6])
            for echo in echoes { #expect(try await echo.outcome.status == .completed) }
            #expect(pool.kindLimits["debug.sleep"]?.maxConcurrent == 2)
        }
    }

    @Test func aPausedKindWaitsUntilItIsResumedAndRunningJobsGoOn() async throws {
        try await withTestPool(workers: 2) { pool in
            let events = pool.events()
            let running = try await pool.submit(sleepJob("running", 300))
            // Paused once it runs (a loaded machine may take a while to start it).
            for await case .jobStarted(let info) in events where info.job == "running" { break }
            pool.pause(kind: "debug.sleep")
            let held = try await pool.submit(sleepJob("held", 10))
            #expect(try await pool.process(Job(kind: "debug.echo", payload: .json(["n": 1]))).status == .completed)
            #expect(try await running.outcome.status == .completed)
            try await Task.sleep(for: .milliseconds(200))
            #expect(held.currentOutcome == nil)
            #expect(pool.kindLimits["debug.sleep"]?.isPaused == true)
            pool.resume(kind: "debug.sleep")
            #expect(try await held.outcome.status == .completed)
            #expect(pool.kindLimits.isEmpty)
        }
    }

    @Test(.enabled(if: measuredAlone, "measures a rate: scripts/test runs it alone, after the suite"))
    func aRateSpreadsTheStartsEvenly() async throws {
        // 10 a second: one every 100 ms.
        try await withTestPool(workers: 4, configure: { $0.kindLimits["debug.echo"] = KindLimits(rate: .init(jobs: 10, per: .seconds(1))) }) {
            pool in
            let events = pool.events()
            var handles: [JobHandle<JSONValue>] = []
            for index in 0..<16 { handles.append(try await pool.submit(Job(kind: "debug.echo", payload: .json(["n": .int(Int64(index))])))) }
            for handle in handles { #expect(try await handle.outcome.status == .completed) }
            let starts = await runs(of: "debug.echo", count: 16, in: events).map(\.start).sorted()
            let spread = starts[15] - starts[0]
            #expect(spread >= 1.45 && spread < 2.0, "16 starts 100 ms apart: \(spread) s")
            for (index, start) in starts.enumerated() {
                // No second holds more than a tenth over 10 starts (lateness caught up).
                #expect(starts[index...].prefix { $0 < start + 1 }.count <= 11)
            }
        }
    }

    @Test func limitsAQueueCannotKeepAreRefused() async throws {
        #expect(throws: OffloadError.self) { try KindLimits(maxConcurrent: 0).validate() }
        #expect(throws: OffloadError.self) { try KindLimits(rate: .init(jobs: 5, per: .zero)).validate() }
        #expect(throws: OffloadError.self) { try KindLimits(rate: .init(jobs: 0, per: .seconds(1))).validate() }
        try await withTestPool { pool in
            #expect(throws: OffloadError.self) { try pool.setLimits(KindLimits(maxConcurrent: -1), for: "debug.echo") }
        }
        var configuration = PoolConfiguration()
        configuration.kindLimits["debug.echo"] = KindLimits(maxConcurrent: 0)
        #expect(throws: OffloadError.self) { try WorkerPool(configuration: configuration, registry: .diagnostics) }
    }

    @Test func onADurableQueueALimitHoldsAcrossHosts() async throws {
        let queue = MemoryDurableQueue()
        try await queue.setLimits(KindLimits(maxConcurrent: 1), for: "debug.sleep")
        let jobs = (0..<6).map { sleepJob("q\($0)", 60) }
        queue.submit(jobs)
        let server = QueueServerTests()
        try await server.withServer(queue) {
            try await server.withServer(queue) {
                try await server.eventually("the jobs end") { jobs.allSatisfy { queue.entry($0.id)?.state == .completed } }
            }
        }
        let runs = jobs.compactMap { job -> (start: Double, end: Double)? in
            let history = queue.entry(job.id)?.history ?? []
            guard let start = history.first(where: { $0.name == "started" }), let end = history.last else { return nil }
            return (start.at.secondsSince1970, end.at.secondsSince1970)
        }
        #expect(runs.count == 6)
        #expect(mostAtOnce(runs) == 1)
        #expect(try await queue.kindLimits()["debug.sleep"]?.maxConcurrent == 1)
    }
}
