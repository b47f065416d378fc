import OffloadTestSupport
import Testing
@testable import Offload

/// The events of a pool under load, in both isolations, are causally ordered: per job queued <
/// started < progress… < completed/failed/cancelled, and the stream's times never decrease.
@Suite struct EventOrderTests {
    @Test(arguments: [Isolation.thread, .process])
    func eventsUnderLoadAreInCausalOrder(isolation: Isolation) async throws {
        var configuration = PoolConfiguration(isolation: isolation, scaling: .fixed(2), cancellationGracePeriod: .seconds(2))
        configuration.workerProcess.executable = builtExecutable("offload-worker")
        configuration.workerProcess.forwardsOutput = false
        configuration.workerProcess.prefetch = 4
        let pool = try WorkerPool(configuration: configuration, registry: .diagnostics)
        // Subscribed before the pool runs: the stream holds every event, the workers' start included.
        let events = pool.events()
        let collected = Task { await events.reduce(into: [PoolEvent]()) { $0.append($1) } }
        let running = Task { try await pool.run() }

        var random = SeededRandom(seed: 12)
        var handles: [JobHandle<JSONValue>] = []
        for index in 0..<1_500 {
            let job: Job
            switch Int.random(in: 0..<20, using: &random) {
            case 0:
                job = Job(
                    id: JobID("j\(index)"), kind: "debug.fail", payload: .json(["times": 1]), maxRetries: 1,
                    retryPolicy: RetryPolicy(initialDelay: .milliseconds(1), multiplier: 1, maxDelay: .milliseconds(1), jitter: 0))
            case 1: job = Job(id: JobID("j\(index)"), kind: "debug.sleep", payload: .json(["ms": 120]), priority: .low)
            case 2: job = Job(id: JobID("j\(index)"), kind: "debug.echo", priority: .critical)
            case 3, 4: job = Job(id: JobID("j\(index)"), kind: "debug.sleep", payload: .json(["ms": 1]), priority: .high)
            default: job = Job(id: JobID("j\(index)"), kind: "debug.echo", payload: .json(["n": .int(Int64(index))]))
            }
            let handle = try await pool.submit(job)
            if Int.random(in: 0..<50, using: &random) == 0 { handle.cancel() }
            handles.append(handle)
        }
        for handle in handles { _ = await handle.outcome }
        await pool.shutdown()
        try await running.value
        let stream = await collected.value

        let violations = EventOrder.violations(in: stream)
        #expect(violations.isEmpty, "\(violations.count) events out of order; the first: \(violations.prefix(5))")
        let finals = stream.filter(\.isFinal).count
        #expect(finals == handles.count)
        // The load did what the test is for: retries, progress and stop requests happened.
        #expect(stream.contains { if case .attemptFailed = $0 { true } else { false } })
        #expect(stream.contains { if case .jobProgress = $0 { true } else { false } })
        #expect(stream.contains { if case .jobCancelled = $0 { true } else { false } })
    }

    @Test func theCheckerFindsDisorder() {
        let info = { (time: Int, attempt: Int) in
            JobEventInfo(time: .milliseconds(time), job: "a", kind: "debug.echo", priority: .normal, attempt: attempt, worker: nil, pid: nil)
        }
        let outcome = JobOutcome(
            id: "a", kind: "debug.echo", priority: .normal, status: .completed, attempts: 1, worker: nil,
            workerPID: nil, waitTime: .zero, runTime: .zero, result: nil, error: nil)
        #expect(EventOrder.violations(in: [.jobQueued(info(1, 0)), .jobStarted(info(2, 1)), .jobCompleted(info(3, 1), outcome)]) == [])
        #expect(!EventOrder.violations(in: [.jobQueued(info(1, 0)), .jobCompleted(info(2, 1), outcome), .jobStarted(info(3, 1))]).isEmpty)
        #expect(!EventOrder.violations(in: [.jobQueued(info(2, 0)), .jobStarted(info(1, 1)), .jobCompleted(info(3, 1), outcome)]).isEmpty)
        #expect(!EventOrder.violations(in: [.jobStarted(info(1, 1)), .jobCompleted(info(2, 1), outcome)]).isEmpty)
        #expect(!EventOrder.violations(in: [.jobQueued(info(1, 0)), .jobProgress(info(2, 0), fraction: 0.5, message: nil)]).isEmpty)
    }
}

/// Checks a stream of pool events against the order the pool promises.
enum EventOrder {
    private enum JobPhase { case queued, running, between, ended }

    static func violations(in events: [PoolEvent]) -> [String] {
        var found: [String] = []
        var last: Duration = .zero
        var phases: [JobID: JobPhase] = [:]
        for (index, event) in events.enumerated() {
            if event.time < last { found.append("event \(index) (\(event.name)) at \(event.time) comes after one at \(last)") }
            last = max(last, event.time)
            guard let info = event.jobInfo else { continue }
            let phase = phases[info.job]
            let next: JobPhase?
            switch (event, phase) {
            case (.jobQueued, nil): next = .queued
            case (.jobStarted, .queued?), (.jobStarted, .between?): next = .running
            case (.jobProgress, .running?), (.stopRequested, .running?): next = .running
            // A job held by a worker process (prefetch) may be asked to stop before it starts.
            case (.stopRequested, .queued?), (.stopRequested, .between?): next = phase
            case (.attemptFailed, .running?), (.jobPreempted, .running?): next = .between
            case (.jobCompleted, .running?), (.jobFailed, .running?), (.jobCancelled, .running?): next = .ended
            // Ended before starting: cancelled while queued or held, or out of start-up attempts.
            case (.jobCancelled, .queued?), (.jobCancelled, .between?), (.jobFailed, .queued?), (.jobFailed, .between?): next = .ended
            default: next = nil
            }
            guard let next else {
                found.append("event \(index): \(event.name) of job \(info.job) when it was \(phase.map { "\($0)" } ?? "unknown")")
                continue
            }
            phases[info.job] = next
        }
        for (job, phase) in phases where phase != .ended { found.append("job \(job) never ended (\(phase))") }
        return found
    }
}
