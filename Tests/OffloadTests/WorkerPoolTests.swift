import OffloadTestSupport
import Testing
@testable import Offload

/// Runs `body` with a pool of `workers` thread workers (priority policy unless configured).
func withTestPool<T>(
    workers: Int = 1, configure: (inout PoolConfiguration) -> Void = { _ in },
    registry: HandlerRegistry = .diagnostics, _ body: (WorkerPool) async throws -> T
) async throws -> T {
    var configuration = PoolConfiguration(scaling: .fixed(workers), cancellationGracePeriod: .milliseconds(300), shutdownTimeout: .seconds(5))
    configure(&configuration)
    return try await WorkerPool.withPool(configuration: configuration, registry: registry, body)
}

func sleepJob(_ id: String, _ ms: Int, _ priority: Priority = .normal) -> Job {
    Job(id: JobID(id), kind: "debug.sleep", payload: .json(.object([("ms", .int(Int64(ms)))])), priority: priority)
}

@Suite(.timeLimit(.minutes(1))) struct WorkerPoolTests {
    @Test func runsJobsAndReturnsTypedResults() async throws {
        try await withTestPool(workers: 2) { pool in
            let outcome = try await pool.process(Job(kind: "debug.echo", payload: .json(.object([("hello", .string("world"))]))))
            #expect(outcome.status == .completed)
            #expect(try outcome.value(as: JSONValue.self)["hello"] == .string("world"))
            #expect(outcome.workerPID != nil)
        }
    }

    @Test func queuedJobsStartInPriorityOrderThenFIFO() async throws {
        try await withTestPool(workers: 1) { pool in
            let events = pool.events()
            pool.pause()
            let priorities: [Priority] = [.low, .normal, .critical, .high, .low, .critical, .high, .normal]
            var handles: [JobHandle<JSONValue>] = []
            for (index, priority) in priorities.enumerated() {
                handles.append(try await pool.submit(sleepJob("j\(index)", 1, priority)))
            }
            pool.resume()
            var started: [String] = []
            for await case .jobStarted(let event) in events {
                started.append(event.job.rawValue)
                if started.count == priorities.count { break }
            }
            #expect(started == ["j2", "j5", "j3", "j6", "j1", "j7", "j0", "j4"])
            for handle in handles { #expect(await handle.outcome.status == .completed) }
        }
    }

    @Test func agingLetsLowJobsFinishUnderAFloodOfHighOnes() async throws {
        try await withTestPool(workers: 1, configure: { $0.agingInterval = .milliseconds(50) }) { pool in
            let low = try await pool.submit(sleepJob("low", 1, .low))
            // A steady flood: each high job arrives while the previous one runs.
            var finishedBeforeFlood = false
            for index in 0..<60 {
                try await pool.submit(sleepJob("h\(index)", 5, .high))
                if low.currentOutcome != nil { finishedBeforeFlood = true }
                try await Task.sleep(for: .milliseconds(4))
            }
            #expect(await low.outcome.status == .completed)
            #expect(finishedBeforeFlood, "the low job should finish while high jobs keep arriving")
        }
    }

    @Test func delayedJobsDoNotStartEarly() async throws {
        try await withTestPool { pool in
            let submitted = ContinuousClock.now
            var job = Job(kind: "debug.echo", delay: .milliseconds(300))
            job.createdAt = submitted
            let handle = try await pool.submit(job)
            let outcome = await handle.outcome
            #expect(outcome.status == .completed)
            #expect(ContinuousClock.now - submitted >= .milliseconds(300))
        }
    }

    @Test func failingJobsAreRetriedWithBackoff() async throws {
        try await withTestPool { pool in
            let job = Job(
                kind: "debug.fail", payload: .json(.object([("times", .int(2))])), maxRetries: 3,
                retryPolicy: RetryPolicy(initialDelay: .milliseconds(5), jitter: 0))
            let outcome = try await pool.process(job)
            #expect(outcome.status == .completed)
            #expect(outcome.attempts == 3)
            #expect(pool.metrics.retried == 2)

            let hopeless = try await pool.process(Job(kind: "debug.fail", maxRetries: 1, retryPolicy: .immediate))
            #expect(hopeless.status == .failed)
            #expect(hopeless.attempts == 2)
            #expect(hopeless.error?.code == .handlerFailed)
        }
    }

    @Test func timeoutsStopCooperativeJobs() async throws {
        try await withTestPool { pool in
            // The job would sleep a minute; ending long before that shows the deadline stopped it
            // (the bound is loose on purpose: tests share two cores with the whole suite).
            var job = sleepJob("slow", 60_000)
            job.timeout = .milliseconds(100)
            let start = ContinuousClock.now
            let outcome = try await pool.process(job)
            #expect(outcome.status == .failed)
            #expect(outcome.error?.code == .timedOut)
            #expect(ContinuousClock.now - start < .seconds(20))
        }
    }

    @Test func aHungJobTimesOutAndItsWorkerIsReplaced() async throws {
        try await withTestPool { pool in
            let events = pool.events()
            var hang = Job(kind: "debug.hang")
            hang.timeout = .milliseconds(100)
            let outcome = try await pool.process(hang)
            #expect(outcome.error?.code == .timedOut)
            var sawReplacement = false
            for await case .workerFailed in events {
                sawReplacement = true
                break
            }
            #expect(sawReplacement)
            #expect(try await pool.process(Job(kind: "debug.echo")).status == .completed)
        }
    }

    @Test func cancellingQueuedAndRunningJobs() async throws {
        try await withTestPool { pool in
            let running = try await pool.submit(sleepJob("running", 5_000))
            let queued = try await pool.submit(sleepJob("queued", 10))
            #expect(queued.cancel())
            #expect(await queued.outcome.status == .cancelled)
            while running.progress == nil && pool.metrics.running == 0 { await Task.yield() }
            #expect(running.cancel())
            let outcome = await running.outcome
            #expect(outcome.status == .cancelled)
            #expect(outcome.error?.code == .cancelled)
            #expect(!pool.cancel("no-such-job"))
        }
    }

    @Test func criticalWorkPreemptsLowerWorkWithoutChargingARetry() async throws {
        // A grace period that a loaded machine cannot outlast: past it, a job that has not given
        // way is let finish (the state machine's tests hold that part to the nanosecond).
        try await withTestPool(workers: 1, configure: { $0.cancellationGracePeriod = .seconds(10) }) { pool in
            let events = pool.events()
            // Far longer than a starved test task can take to submit the critical job.
            let low = try await pool.submit(sleepJob("low", 60_000, .low))
            for await case .jobStarted(let event) in events where event.job == "low" { break }
            let critical = try await pool.submit(Job(id: "urgent", kind: "debug.echo", priority: .critical))
            #expect(await critical.outcome.status == .completed)
            var preempted = false
            for await event in events {
                if case .jobPreempted(let job) = event, job.job == "low" { preempted = true }
                // Started again as attempt 1: the preempted attempt was given back.
                if case .jobStarted(let job) = event, job.job == "low" {
                    #expect(job.attempt == 1)
                    break
                }
            }
            #expect(preempted)
            #expect(pool.metrics.preempted == 1)
            low.cancel()
            #expect(await low.outcome.attempts == 1)
        }
    }

    @Test func debugCrashIsRefusedInThreadIsolation() async throws {
        try await withTestPool { pool in
            let outcome = try await pool.process(Job(kind: "debug.crash"))
            #expect(outcome.status == .failed)
            #expect(outcome.error?.code == .isolationRequired)
        }
    }

    @Test func submitRefusesBadJobsWithTypedErrors() async throws {
        try await withTestPool(configure: {
            $0.capacity = 1
            $0.overflow = .fail
        }) { pool in
            await #expect(throws: OffloadError.self) { try await pool.submit(Job(kind: "nope")) }
            await #expect(throws: OffloadError.self) { try await pool.submit(Job(kind: "debug.echo", maxRetries: -1)) }
            pool.pause()
            try await pool.submit(Job(id: "one", kind: "debug.echo"))
            do throws(OffloadError) {
                try await pool.submit(Job(id: "one", kind: "debug.echo"))
                Issue.record("a duplicate id must be refused")
            } catch { #expect(error.code == .duplicateJob) }
            do throws(OffloadError) {
                try await pool.submit(Job(id: "two", kind: "debug.echo"))
                Issue.record("a full queue must refuse")
            } catch { #expect(error.code == .queueFull) }
            pool.resume()
        }
    }

    @Test func workerReadyEventsCarryThePid() async throws {
        let pool = try WorkerPool(configuration: PoolConfiguration(scaling: .fixed(2)), registry: .diagnostics)
        let events = pool.events()
        async let running: Void = pool.run()
        var ready: [WorkerEventInfo] = []
        for await case .workerReady(let event) in events {
            ready.append(event)
            if ready.count == 2 { break }
        }
        #expect(ready.allSatisfy { $0.pid != nil } && Set(ready.map(\.worker)).count == 2)
        await pool.shutdown()
        try await running
    }
}

@Suite(.timeLimit(.minutes(1))) struct PoolLifecycleTests {
    @Test func gracefulShutdownDrainsQueuedJobs() async throws {
        let pool = try WorkerPool(configuration: PoolConfiguration(scaling: .fixed(2)), registry: .diagnostics)
        async let running: Void = pool.run()
        var handles: [JobHandle<JSONValue>] = []
        for index in 0..<20 { handles.append(try await pool.submit(sleepJob("d\(index)", 5))) }
        await pool.shutdown(timeout: .seconds(10))
        for handle in handles { #expect(handle.currentOutcome?.status == .completed) }
        await #expect(throws: OffloadError.self) { try await pool.submit(Job(kind: "debug.echo")) }
        try await running
    }

    @Test func shutdownPastItsDeadlineCancelsWhatIsLeft() async throws {
        let pool = try WorkerPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: .diagnostics)
        async let running: Void = pool.run()
        let long = try await pool.submit(sleepJob("long", 10_000))
        let waiting = try await pool.submit(sleepJob("waiting", 10))
        await pool.shutdown(timeout: .milliseconds(50))
        #expect(long.currentOutcome?.status == .cancelled)
        #expect(waiting.currentOutcome?.status == .cancelled)
        try await running
    }

    @Test func scalesUpUnderLoadAndDownWhenIdle() async throws {
        var configuration = PoolConfiguration(
            scaling: ScalingConfiguration(
                minWorkers: 1, maxWorkers: 3, idleTimeout: .milliseconds(100), checkInterval: .milliseconds(10)))
        configuration.preemption = false
        try await WorkerPool.withPool(configuration: configuration, registry: .diagnostics) { pool in
            // Read from the events, which a test task starved on a loaded machine does not miss.
            let events = pool.events()
            var handles: [JobHandle<JSONValue>] = []
            for index in 0..<30 { handles.append(try await pool.submit(sleepJob("s\(index)", 20))) }
            var ranOn: Set<WorkerID> = []
            var ended = 0
            for await event in events {
                if case .jobStarted(let job) = event, let worker = job.worker { ranOn.insert(worker) }
                if event.isFinal { ended += 1 }
                if ended == handles.count { break }
            }
            #expect(ranOn.count == 3, "the jobs ran on \(ranOn.sorted { $0.rawValue < $1.rawValue })")
            while pool.metrics.workers > 1 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(pool.metrics.workers == 1)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct SchedulingPolicyTests {
    @Test func roundRobinSpreadsJobsOverWorkers() async throws {
        try await withTestPool(workers: 3, configure: { $0.policy = RoundRobinPolicy() }) { pool in
            while pool.metrics.workers < 3 { try await Task.sleep(for: .milliseconds(1)) }
            var used = Set<WorkerID>()
            for index in 0..<6 {
                let outcome = try await pool.process(sleepJob("r\(index)", 1))
                used.insert(outcome.worker!)
            }
            #expect(used.count == 3)
        }
    }

    @Test func leastLoadedPrefersTheLeastBusyWorker() async throws {
        try await withTestPool(workers: 2, configure: { $0.policy = LeastLoadedPolicy() }) { pool in
            while pool.metrics.workers < 2 { try await Task.sleep(for: .milliseconds(1)) }
            let first = try await pool.process(sleepJob("l1", 30))
            let second = try await pool.process(sleepJob("l2", 1))
            #expect(first.worker != second.worker)
        }
    }

    @Test func fifoIgnoresPriority() async throws {
        try await withTestPool(workers: 1, configure: { $0.policy = FIFOPolicy() }) { pool in
            pool.pause()
            let first = try await pool.submit(sleepJob("first", 1, .low))
            let second = try await pool.submit(sleepJob("second", 1, .critical))
            pool.resume()
            _ = await second.outcome
            #expect(first.currentOutcome?.status == .completed)
        }
    }

    @Test func capabilityBasedRoutesKindsToWorkersThatDeclareThem() async throws {
        try await withTestPool(
            workers: 2,
            configure: {
                $0.policy = CapabilityBasedPolicy()
                $0.workerProfiles = [["debug.echo"], ["debug.sleep"]]
            }
        ) { pool in
            let echo = try await pool.process(Job(kind: "debug.echo"))
            let sleep = try await pool.process(sleepJob("c1", 1))
            #expect(echo.worker != nil && sleep.worker != nil && echo.worker != sleep.worker)
            await #expect(throws: OffloadError.self) { try await pool.submit(Job(kind: "debug.spin")) }
        }
    }

    @Test func aCustomPolicyChoosesTheWorker() async throws {
        struct LastWorker: SchedulingPolicy {
            var name: String { "last" }
            mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? {
                candidates.max(by: { WorkerNumbering.less($0.id, $1.id) })?.id
            }
        }
        try await withTestPool(workers: 3, configure: { $0.policy = LastWorker() }) { pool in
            while pool.metrics.workers < 3 { try await Task.sleep(for: .milliseconds(1)) }
            let outcome = try await pool.process(Job(kind: "debug.echo"))
            #expect(outcome.worker == WorkerID("w3"))
        }
    }
}
