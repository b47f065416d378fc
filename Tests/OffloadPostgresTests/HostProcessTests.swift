#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OffloadTestSupport
import Testing
@testable import Offload
@testable import OffloadPostgres

/// An `offload worker` process serving a test's schema.
struct WorkerHostProcess {
    let child: ChildProcess
    let folder: String

    /// Starts one in a folder of its own, or in `directory` (its outputs still go to its own),
    /// with the diagnostic kinds unless `diagnostics` is off.
    static func start(
        url: String, schema: String, _ arguments: [String], directory: String? = nil, diagnostics: Bool = true
    ) throws -> WorkerHostProcess {
        let folder = temporaryFolder("worker-host")
        let child = try ChildProcess.spawn(
            executable: builtExecutable("offload"),
            arguments: ["worker", "--queue", url, "--schema", schema, "--out", "\(folder)/out"]
                + (diagnostics ? ["--diagnostics"] : []) + arguments,
            environment: ["PATH=/usr/bin:/bin", "HOME=/tmp"], directory: directory ?? folder)
        close(child.toChild)
        close(child.fromChild)
        return WorkerHostProcess(child: child, folder: folder)
    }

    var pid: Int32 { child.pid }

    /// SIGKILL, then reaps it.
    func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        _ = child.waitForExit()
        close(child.output)
    }

    /// SIGTERM, reading what it prints (so that a flood of lines cannot block it) until it
    /// exits; its status, its output and how long the stop took.
    func stop() async throws -> (status: Int32, output: String, took: Duration) {
        let start = ContinuousClock.now
        _ = Glibc.kill(pid, SIGTERM)
        let output = try await readOutput(of: child, killAfter: .seconds(120), keep: 4 << 20)
        let status = child.waitForExit()
        close(child.output)
        removeTree(folder)
        return (status, String(decoding: output, as: UTF8.self), ContinuousClock.now - start)
    }
}

extension PostgresTests {
    @Suite struct HostProcessTests {
        func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + timeout
            while try await !condition() {
                guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "\(what) did not happen in \(timeout)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        @Test func aHostPausedPastItsLeaseCannotEndTheJobAnotherHostRescued() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            try await withQueue(schema: schema) { queue in
                let paused = try WorkerHostProcess.start(url: url, schema: schema, ["--workers", "1", "--isolation", "thread", "--lease-ms", "1000"])
                // Long enough that it is still running when the host is paused, however late the
                // test sees it start on a loaded machine.
                var job = sleep(4_000)
                job.maxRetries = 1
                let id = try await queue.submit(job)
                try await waitUntil("the job starts on the first host") { try await queue.job(id)?.leaseOwner?.contains(":\(paused.pid):") == true }
                kill(paused.pid, SIGSTOP)
                try await withServer(queue, host: "rescuer", configure: { $0.maintenanceInterval = .milliseconds(300) }) { _ in
                    let done = try await queue.finished(id, timeout: .seconds(20))
                    #expect(done.state == .completed)
                    #expect(done.attempt == 2)
                    kill(paused.pid, SIGCONT)
                    // Its attempt ends, and its end is refused and recorded as such.
                    try await waitUntil("the paused host's end is refused") {
                        try await queue.events(of: id).contains { $0.type == "leaseLost" }
                    }
                }
                let events = try await queue.events(of: id)
                #expect(events.map(\.type).filter { $0 != "progress" } == ["queued", "started", "rescued", "started", "completed", "leaseLost"])
                // The paused host's progress, reported after its lease was lost, is fenced out.
                let rescue = try #require(events.firstIndex { $0.type == "rescued" })
                #expect(events[rescue...].filter { $0.type == "progress" }.allSatisfy { $0.host == "rescuer" })
                #expect(events.first { $0.type == "completed" }?.host == "rescuer")
                #expect(events.last?.host?.contains(":\(paused.pid):") == true)
                #expect(try await queue.job(id)?.state == .completed)
                #expect(try await paused.stop().status == 0)
            }
        }

        @Test func aHostKilledMidRunLosesNoJobAndRunsNoneMoreThanTwice() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            try await withQueue(schema: schema) { queue in
                let arguments = ["--workers", "2", "--isolation", "thread", "--lease-ms", "1000", "--claim-ahead", "2"]
                let steady = try WorkerHostProcess.start(url: url, schema: schema, arguments)
                let doomed = try WorkerHostProcess.start(url: url, schema: schema, arguments)
                // A host's death counts as an attempt of what it held: these may be tried again.
                let ids = try await queue.submit(
                    (0..<300).map { _ in
                        var job = sleep(20)
                        job.maxRetries = 2
                        return PostgresQueue.Submission(job)
                    })
                let doomedName = ":\(doomed.pid):"
                try await waitUntil("a third of the jobs end") { (try await queue.status().counts[.completed]?.values.reduce(0, +) ?? 0) >= 100 }
                // On a loaded machine the steady host may end that third before the other has
                // started: it is killed holding jobs, not before it took any.
                try await waitUntil("the doomed host runs jobs") {
                    try await queue.jobs(state: .running, limit: 1_000).contains { $0.leaseOwner?.contains(doomedName) == true }
                }
                doomed.kill()
                let again = try WorkerHostProcess.start(url: url, schema: schema, arguments)
                for id in ids { #expect(try await queue.finished(id, timeout: .seconds(60)).state == .completed) }
                // What the killed host held as it died (running, claimed ahead, or ended with its
                // end not yet written) was rescued once its lease expired, each rescue recorded
                // under the dead host's name. Read from the history rather than at the kill, when
                // the steady host may already be rescuing it on a loaded machine.
                var twice: Set<JobID> = []
                var held: Set<JobID> = []
                for id in ids {
                    let events = try await queue.events(of: id)
                    let starts = events.filter { $0.type == "started" }.count
                    #expect(starts == 1 || starts == 2)
                    if starts == 2 { twice.insert(id) }
                    if events.contains(where: { $0.type == "rescued" && $0.host?.contains(doomedName) == true }) { held.insert(id) }
                }
                #expect(!held.isEmpty)
                #expect(held.count <= 2 + 2 + QueueServerState.endsPerStatement)
                // Only what the killed host held may have run twice.
                #expect(twice.isSubset(of: held), "ran twice, not held by the killed host: \(twice.subtracting(held))")
                #expect(try await steady.stop().status == 0)
                #expect(try await again.stop().status == 0)
            }
        }

        @Test func aDatabaseRestartMidRunLosesNothing() async throws {
            try await TestDatabase.withOwn { own in
                try await TestDatabase.$current.withValue(own) {
                    try await withQueue { queue in
                        try await withServer(queue) { _ in
                            let before = try await queue.submit((0..<50).map { _ in PostgresQueue.Submission(sleep(10)) })
                            try await own.restart()
                            var after: [JobID] = []
                            try await waitUntil("the database takes jobs again") {
                                do { after = try await queue.submit((0..<50).map { _ in PostgresQueue.Submission(sleep(10)) }) } catch {
                                    return false
                                }
                                return true
                            }
                            for id in before + after { #expect(try await queue.finished(id, timeout: .seconds(60)).state == .completed) }
                        }
                    }
                }
            }

        }
    }
}
