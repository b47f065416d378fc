#if canImport(Glibc)
import Glibc
#endif
import Offload
import OffloadData
import Testing
@testable import OffloadAnalytics

/// A data or analytics job over a large file (read in parts on threads of their own, where only
/// `JobContext.withCancellationCheck` sees the pool's request) that the pool stops for more
/// urgent work goes back to the queue and later completes.
@Suite struct PreemptionTests {
    @Test(arguments: [
        ("data", #"{"input":{"path":"events.jsonl"},"pipeline":[{"op":"group","by":["eventType"],"aggregates":[{"fn":"count","as":"n"}]}]}"#),
        (
            "analytics",
            #"{"events":{"path":"events.jsonl"},"aggregate":{"groupBy":["eventType"],"granularity":"day","metrics":[{"fn":"count","as":"n"}]}}"#
        )
    ])
    func aPreemptedFileJobGoesBackToTheQueueAndCompletes(kind: String, payload: String) async throws {
        let folder = "/tmp/offload-preempt-\(kind)-\(getpid())"
        defer {
            unlink(folder + "/events.jsonl")
            rmdir(folder + "/out")
            rmdir(folder)
        }
        // 80,000 events, 5 MB: read in parts, and still being read when the urgent job comes (checked every 4,096).
        let pair =
            #"{"eventType":"click","timestamp":1795946400,"sessionId":"s1"}"# + "\n"
            + #"{"eventType":"view","timestamp":1795946401,"sessionId":"s2"}"# + "\n"
        try OutputFile.write(Array(String(repeating: pair, count: 40_000).utf8), to: folder, name: "events.jsonl")

        var registry = HandlerRegistry.diagnostics
        try registry.registerData(outputDirectory: folder + "/out", folders: AllowedFolders([folder]))
        try registry.registerAnalytics(folders: AllowedFolders([folder]))
        // The low job must still run when the urgent one comes: on a loaded machine it may end
        // first, and the scene is played again (a few times at most).
        var preempted = false
        for _ in 0..<5 where !preempted {
            try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
                let events = pool.events()
                let low = try await pool.submit(Job(kind: kind, payload: .json(try JSONParser.parse(payload)), priority: .low))
                for await case .jobStarted(let event) in events where event.job == low.id { break }
                #expect(try await pool.process(Job(kind: "debug.echo", priority: .critical)).status == .completed)
                let outcome = await low.outcome
                #expect(outcome.status == .completed)
                guard pool.metrics.preempted == 1 else { return }
                preempted = true
                #expect(outcome.attempts == 1)
            }
        }
        #expect(preempted, "the low job ended before the urgent one came, five times")
    }
}
