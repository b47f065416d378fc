#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

@Suite(.timeLimit(.minutes(1))) struct ProcessIsolationTests {
    @Test func jobsRunInWorkerProcessesAndReturnJSON() async throws {
        try await withProcessPool(workers: 2) { pool in
            let outcome = try await pool.process(Job(kind: "debug.echo", payload: .json(.object([("hello", .string("wörld"))]))))
            #expect(outcome.status == .completed)
            #expect(try outcome.value(as: JSONValue.self)["hello"] == .string("wörld"))
            #expect(outcome.workerPID != nil && outcome.workerPID != getpid())
            let typed = try await pool.process(Job(kind: "debug.sleep", payload: .value(["ms": 5.0])))
            #expect(typed.status == .completed)
            #expect(try (typed.value(as: JSONValue.self)["sleptMs"]?.doubleValue ?? 0) >= 5)
        }
    }

    @Test func aTrapKillsOnlyItsWorkerAndIsRetriedOnAFreshOne() async throws {
        try await withProcessPool { pool in
            var crash = Job(id: "crash", kind: "debug.crash", maxRetries: 1)
            crash.retryPolicy = RetryPolicy(initialDelay: .milliseconds(1))
            let events = pool.events()
            let outcome = try await pool.process(crash)
            #expect(outcome.status == .failed)
            #expect(outcome.attempts == 2)
            #expect(outcome.error?.code == .workerCrashed)
            #expect(outcome.error?.message.contains("SIGILL") == true)
            #expect(outcome.error?.message.contains("Fatal error: debug.crash: deliberate trap in job crash") == true)
            var crashedPIDs: Set<Int32> = []
            for await case .workerFailed(let event, _, _, _) in events {
                if let pid = event.pid { crashedPIDs.insert(pid) }
                if crashedPIDs.count == 2 { break }
            }
            #expect(crashedPIDs.count == 2)
            // The host lives on, and so does the pool.
            #expect(try await pool.process(echoJob("after")).status == .completed)
        }
    }

    @Test func aJobThatNeverYieldsIsKilledAtItsDeadline() async throws {
        // A 10 s grace period: a kill well before it is the deadline's, not the grace period's
        // (the bound is loose on purpose: tests share two cores with the whole suite).
        try await withProcessPool(configure: { $0.cancellationGracePeriod = .seconds(10) }) { pool in
            var hang = Job(kind: "debug.hang")
            hang.timeout = .milliseconds(200)
            let outcome = try await pool.process(hang)
            #expect(outcome.error?.code == .timedOut)
            #expect(outcome.runTime >= .milliseconds(200))
            #expect(outcome.runTime < .seconds(5))
            #expect(try await pool.process(echoJob("after")).status == .completed)
        }
    }

    @Test func allocationPastTheMemoryLimitIsReportedAsSuch() async throws {
        try await withProcessPool(configure: { $0.workerProcess.memoryLimit = 256 << 20 }) { pool in
            let outcome = try await pool.process(Job(kind: "debug.alloc", payload: .json(.object([("mb", .int(2048))]))))
            #expect(outcome.status == .failed)
            #expect(outcome.error?.code == .memoryLimitExceeded)
            let small = try await pool.process(Job(kind: "debug.alloc", payload: .json(.object([("mb", .int(64))]))))
            #expect(small.status == .completed)
            let usage = try #require(pool.metrics.perWorker.first?.resourceUsage ?? nil)
            #expect(usage.residentBytes > 1 << 20)
        }
    }

    @Test func aCPUTimeLimitEndsAWorkerThatUsesItUp() async throws {
        try await withProcessPool(configure: { $0.workerProcess.cpuTimeLimit = .seconds(1) }) { pool in
            // Spins far longer than its second of CPU, so the limit ends it even when the worker
            // gets a small share of a loaded machine.
            let outcome = try await pool.process(Job(kind: "debug.spin", payload: .json(.object([("ms", .int(30_000))]))))
            #expect(outcome.error?.code == .cpuLimitExceeded)
        }
    }

    @Test func aWorkerThatStopsBeatingIsKilledAndItsJobRetried() async throws {
        try await withProcessPool(configure: {
            $0.workerProcess.heartbeatInterval = .milliseconds(50)
            $0.workerProcess.heartbeatTimeout = .seconds(1)
        }) { pool in
            // Stopped before the job reaches it, so that no event arriving late on a loaded
            // machine lets the job finish first: the job goes to a worker that never answers.
            var pid: Int32 = 0
            while pid <= 0 {
                try await Task.sleep(for: .milliseconds(5))
                pid = pool.metrics.perWorker.first { $0.state != .initializing }?.pid ?? 0
            }
            kill(pid, SIGSTOP)
            var job = sleepJob("slow", 300)
            job.maxRetries = 2
            job.retryPolicy = RetryPolicy(initialDelay: .milliseconds(1))
            let handle = try await pool.submit(job)
            let outcome = await handle.outcome
            #expect(outcome.status == .completed)
            #expect(outcome.attempts >= 2)
            #expect(pool.metrics.retried >= 1)
        }
    }

    @Test func cancellingARunningJobKeepsACooperativeWorker() async throws {
        try await withProcessPool { pool in
            let events = pool.events()
            let running = try await pool.submit(sleepJob("running", 5_000))
            var pid: Int32?
            for await case .jobStarted(let event) in events {
                pid = event.pid
                break
            }
            #expect(running.cancel())
            let outcome = await running.outcome
            #expect(outcome.status == .cancelled)
            // Had the job not stopped when asked, its worker would have been killed after the grace
            // period: the next job running on the same process shows the cancel was cooperative.
            #expect(try await pool.process(echoJob("next")).workerPID == pid)
        }
    }

    @Test func criticalWorkPreemptsAndAWorkerThatDoesNotYieldIsKilled() async throws {
        try await withProcessPool(configure: { $0.cancellationGracePeriod = .milliseconds(150) }) { pool in
            let events = pool.events()
            var low = Job(id: "low", kind: "debug.hang", priority: .low)
            // Long enough that the preemption, not the timeout, ends the first attempt even on a loaded machine.
            low.timeout = .seconds(5)
            let lowHandle = try await pool.submit(low)
            for await case .jobStarted(let event) in events where event.job == "low" { break }
            let critical = try await pool.process(Job(id: "urgent", kind: "debug.echo", priority: .critical))
            #expect(critical.status == .completed)
            let lowOutcome = await lowHandle.outcome
            #expect(lowOutcome.error?.code == .timedOut)
            #expect(lowOutcome.attempts == 1)
            #expect(pool.metrics.preempted == 1)
        }
    }

    @Test func prefetchKeepsWorkersBusyAndRunsEveryJobOnce() async throws {
        try await withProcessPool(workers: 2, configure: { $0.workerProcess.prefetch = 8 }) { pool in
            let handles = try await (0..<400).asyncMap { try await pool.submit(echoJob("e\($0)", $0)) }
            var pids: Set<Int32> = []
            for (index, handle) in handles.enumerated() {
                let outcome = await handle.outcome
                #expect(outcome.status == .completed)
                #expect(try outcome.value(as: JSONValue.self)["n"] == .int(Int64(index)))
                if let pid = outcome.workerPID { pids.insert(pid) }
            }
            #expect(pids.count == 2)
            #expect(pool.metrics.completed == 400)
        }
    }

    @Test func workersAreRecycledAfterMaxJobs() async throws {
        try await withProcessPool(configure: { $0.maxJobsPerWorker = 2 }) { pool in
            var pids: Set<Int32> = []
            for index in 0..<6 {
                let outcome = try await pool.process(echoJob("r\(index)"))
                #expect(outcome.status == .completed)
                if let pid = outcome.workerPID { pids.insert(pid) }
            }
            #expect(pids.count == 3)
        }
    }

    @Test func workersLeaveNoZombiesAfterShutdown() async throws {
        let pids = try await withProcessPool(workers: 2) { pool in
            for index in 0..<4 { _ = try await pool.process(echoJob("z\(index)")) }
            return pool.metrics.perWorker.map(\.pid)
        }
        #expect(pids.count == 2)
        for pid in pids {
            #expect(pid > 0)
            #expect(access("/proc/\(pid)", F_OK) != 0, "worker \(pid) is still a process (running or a zombie)")
        }
    }

    @Test func aWorkerThatBreaksTheProtocolEndsWithATypedError() async throws {
        // A fake worker: says it is ready with the diagnostic kinds (a valid frame), then sends a frame of protocol version 7.
        let script = try temporaryScript(
            "bad-frame",
            #"""
            printf '\177\000\000\000\001\002\001\000\000\000\010\000\000\000\013\000\000\000\144\145\142\165\147\056\141\154\154\157\143\013\000\000\000\144\145\142\165\147\056\143\162\141\163\150\012\000\000\000\144\145\142\165\147\056\145\143\150\157\012\000\000\000\144\145\142\165\147\056\146\141\151\154\012\000\000\000\144\145\142\165\147\056\150\141\156\147\013\000\000\000\144\145\142\165\147\056\163\154\145\145\160\014\000\000\000\144\145\142\165\147\056\163\156\157\157\172\145\012\000\000\000\144\145\142\165\147\056\163\160\151\156' >&4
            sleep 0.3
            printf '\002\000\000\000\007\010' >&4
            sleep 5
            """#)
        defer { unlink(script) }
        try await withProcessPool(configure: { $0.workerProcess.executable = script }) { pool in
            let outcome = try await pool.process(echoJob("victim"))
            #expect(outcome.status == .failed)
            #expect(outcome.error?.code == .protocolError)
            #expect(outcome.error?.message.contains("protocol version 7") == true)
        }
    }

    @Test func workersThatCannotStartFailQueuedJobsWithTheReason() async throws {
        let garbage = try temporaryScript("garbage", "printf 'garbage!' >&4\nsleep 5")
        defer { unlink(garbage) }
        try await withProcessPool(configure: { $0.workerProcess.executable = garbage }) { pool in
            let outcome = try await pool.process(echoJob("never"))
            #expect(outcome.error?.code == .workerStartFailed)
            #expect(outcome.error?.message.contains("over the maximum") == true)
        }
        try await withProcessPool(configure: { $0.workerProcess.executable = "/bin/false" }) { pool in
            let outcome = try await pool.process(echoJob("never"))
            #expect(outcome.error?.code == .workerStartFailed)
            #expect(outcome.error?.message.contains("exited with code 1 before it was ready") == true)
        }
        #expect(throws: OffloadError.self) {
            var configuration = PoolConfiguration(isolation: .process)
            configuration.workerProcess.executable = "/no/such/worker"
            _ = try WorkerPool(configuration: configuration, registry: .diagnostics)
        }
    }

}

extension Range where Bound == Int {
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for value in self { results.append(try await transform(value)) }
        return results
    }
}
