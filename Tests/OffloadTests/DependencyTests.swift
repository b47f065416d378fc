import OffloadTestSupport
import Synchronization
import Testing
@testable import Offload

/// Jobs that run after others (`Job.dependsOn`) in a pool: they wait, run once their
/// dependencies ended, and a failure cancels exactly the jobs that depend on it, however deep.
@Suite(.timeLimit(.minutes(2))) struct DependencyTests {
    private func echo(_ id: String, after: [String] = [], policy: DependencyFailurePolicy = .cancel) -> Job {
        var job = Job(id: JobID(id), kind: "debug.echo", payload: .json(["id": .string(id)]))
        job.dependsOn = after.map { JobID($0) }
        job.onDependencyFailure = policy
        return job
    }

    private func failing(_ id: String, after: [String] = []) -> Job {
        var job = Job(id: JobID(id), kind: "debug.fail", payload: .json(["times": 100]))
        job.dependsOn = after.map { JobID($0) }
        return job
    }

    @Test func aJobWaitsForAllItsDependenciesThenRunsAndItsStepsSaySo() async throws {
        try await withTestPool(workers: 2) { pool in
            let events = pool.events()
            let first = try await pool.submit(sleepJob("first", 150))
            let second = try await pool.submit(sleepJob("second", 50))
            let last = try await pool.submit(echo("last", after: ["first", "second"]))
            #expect(pool.job("last") != nil)
            let outcome = await last.outcome
            #expect(outcome.status == .completed)
            #expect(await first.outcome.status == .completed)
            #expect(await second.outcome.status == .completed)
            var steps: [String] = []
            var ends: [String: Duration] = [:]
            var lastStarted: Duration?
            for await event in events {
                guard let info = event.jobInfo else { continue }
                if info.job == "last", let step = event.jobEvent(since: pool.madeAt) { steps.append(step.name) }
                if event.isFinal { ends[info.job.rawValue] = info.time }
                if case .jobStarted = event, info.job == "last" { lastStarted = info.time }
                if event.isFinal && info.job == "last" { break }
            }
            #expect(steps == ["waiting", "queued", "started", "completed"])
            let started = try #require(lastStarted)
            #expect(started >= (ends["first"] ?? .seconds(999)) && started >= (ends["second"] ?? .seconds(999)))
        }
    }

    @Test func aFailureCancelsExactlyItsDescendantsAndNamesTheJobThatFailed() async throws {
        try await withTestPool(workers: 2) { pool in
            let root = try await pool.submit(failing("root"))
            let child = try await pool.submit(echo("child", after: ["root"]))
            let grandchild = try await pool.submit(echo("grandchild", after: ["child"]))
            let anyway = try await pool.submit(echo("anyway", after: ["root", "child"], policy: .run))
            let other = try await pool.submit(echo("other"))
            let afterOther = try await pool.submit(echo("afterOther", after: ["other"]))
            #expect(await root.outcome.status == .failed)
            let cancelled = await child.outcome
            #expect(cancelled.status == .cancelled)
            #expect(cancelled.error?.code == .dependencyFailed)
            #expect(cancelled.error?.message.contains("root") == true)
            let deeper = await grandchild.outcome
            #expect(deeper.status == .cancelled && deeper.error?.message.contains("child") == true)
            #expect(await anyway.outcome.status == .completed)
            #expect(await other.outcome.status == .completed)
            #expect(await afterOther.outcome.status == .completed)
            #expect(pool.metrics.cancelled == 2)
        }
    }

    @Test func whatEndedBeforeCountsAsItEnded() async throws {
        try await withTestPool { pool in
            #expect(try await pool.process(echo("done")).status == .completed)
            #expect(try await pool.process(failing("broken")).status == .failed)
            #expect(try await pool.process(echo("afterDone", after: ["done"])).status == .completed)
            let refused = try await pool.process(echo("afterBroken", after: ["broken"]))
            #expect(refused.status == .cancelled && refused.error?.code == .dependencyFailed)
            #expect(try await pool.process(echo("anyway", after: ["done", "broken"], policy: .run)).status == .completed)
        }
    }

    @Test func unknownSelfAndRepeatedDependenciesAreRefusedAtSubmission() async throws {
        try await withTestPool { pool in
            for (job, words) in [
                (echo("a", after: ["nowhere"]), "nowhere"), (echo("b", after: ["b"]), "itself"), (echo("c", after: ["x", "x"]), "twice")
            ] {
                let error = await #expect(throws: OffloadError.self) { try await pool.submit(job) }
                #expect(error?.code == .invalidDependency)
                #expect(error?.message.contains(words) == true, "\(error?.message ?? "")")
            }
            var many = echo("many")
            many.dependsOn = (0...Job.maxDependencies).map { JobID("d\($0)") }
            let error = await #expect(throws: OffloadError.self) { try await pool.submit(many) }
            #expect(error?.code == .invalidDependency)
            #expect(pool.job("a") == nil && pool.metrics.submitted == 0)
        }
    }

    @Test func cancellingAWaitingJobCancelsWhatWaitsForItAndTheDependencyRunsOn() async throws {
        try await withTestPool { pool in
            let slow = try await pool.submit(sleepJob("slow", 300))
            let waiting = try await pool.submit(echo("waiting", after: ["slow"]))
            let next = try await pool.submit(echo("next", after: ["waiting"]))
            #expect(pool.cancel("waiting"))
            let outcome = await waiting.outcome
            #expect(outcome.status == .cancelled && outcome.error?.code == .cancelled)
            let after = await next.outcome
            #expect(after.status == .cancelled && after.error?.code == .dependencyFailed)
            #expect(await slow.outcome.status == .completed)
        }
    }

    @Test func aChainOfThousandsResolvesWithoutRecursion() async throws {
        try await withTestPool(workers: 2) { pool in
            let gate = try await pool.submit(sleepJob("gate", 200))
            var handles: [JobHandle<JSONValue>] = []
            var previous = "gate"
            for index in 0..<3_000 {
                let id = "link-\(index)"
                // Every link fails the chain when the gate fails; here the gate is cancelled.
                handles.append(try await pool.submit(echo(id, after: [previous])))
                previous = id
            }
            #expect(pool.cancel("gate"))
            _ = await gate.outcome
            for handle in handles { #expect(await handle.outcome.error?.code == .dependencyFailed) }
        }
    }

    @Test func aRandomGraphOfAThousandJobsRunsInDependencyOrder() async throws {
        let graph = RandomDAG(count: 1_000, seed: 7)
        try await withTestPool(workers: 2) { pool in
            let ends = Mutex<[JobID: RandomDAG.End]>([:])
            let starts = Mutex<[JobID: Double]>([:])
            let observation = pool.observeEvents { event in
                guard let info = event.jobInfo else { return }
                let time = Double(info.time.components.seconds) + Double(info.time.components.attoseconds) / 1e18
                if case .jobStarted = event { starts.withLock { $0[info.job] = time } }
                if let outcome = event.outcome {
                    let start = starts.withLock { $0[info.job] }
                    ends.withLock {
                        $0[info.job] = RandomDAG.End(
                            state: JobState(outcome.status), error: outcome.error, startedAt: start, endedAt: time)
                    }
                }
            }
            defer { pool.stopObserving(observation) }
            var handles: [JobHandle<JSONValue>] = []
            for job in graph.jobs { handles.append(try await pool.submit(job)) }
            for handle in handles { _ = await handle.outcome }
            let problems = graph.problems(ends.withLock { $0 })
            #expect(problems.isEmpty, "\(problems.prefix(10))")
            #expect(graph.expected.values.contains(.cancelled) && graph.expected.values.contains(.failed))
        }
    }

    @Test func aBatchIsOrderedByItsDependenciesAndACycleIsNamed() throws {
        let jobs = [echo("c", after: ["b"]), echo("b", after: ["a"]), echo("a")]
        #expect(try DependencyOrder.sorted(jobs) == [2, 1, 0])
        #expect(try DependencyOrder.sorted([echo("x"), echo("y")]) == [0, 1])
        let cycle = [echo("p", after: ["r"]), echo("q", after: ["p"]), echo("r", after: ["q"])]
        let error = #expect(throws: OffloadError.self) { try DependencyOrder.sorted(cycle) }
        #expect(error?.code == .invalidDependency)
        #expect(error?.message.contains("cycle") == true && error?.message.contains("p") == true, "\(error?.message ?? "")")
    }
}
