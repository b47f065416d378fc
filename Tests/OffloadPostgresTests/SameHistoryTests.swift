import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// One script of jobs through `offload serve` in memory and through `offload serve --queue`:
    /// every job's history, as its event stream tells it, has the same steps in both.
    @Suite struct SameHistoryTests {
        /// The steps of each job of the script, by the job's name in the script.
        func histories(_ options: [String]) async throws -> [String: [String]] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "1"])
            var ids: [String: String] = [:]
            func submit(_ name: String, _ body: String, wait: Bool = true) async throws {
                let reply = try await serve.send("POST", wait ? "/v1/jobs?wait=20000" : "/v1/jobs", json: body)
                #expect(reply.status == 201, "\(name): \(reply.text)")
                ids[name] = try #require(reply.json?["ids"]?[0]?.stringValue)
            }
            func view(_ name: String) async throws -> JSONValue? { try await serve.get("/v1/jobs/\(ids[name] ?? "")").json }
            func until(_ name: String, _ what: String, _ condition: (JSONValue?) -> Bool) async throws {
                let deadline = ContinuousClock.now + .seconds(20)
                while !condition(try await view(name)) {
                    guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "\(name) never \(what)") }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let ended: (JSONValue?) -> Bool = { ["completed", "failed", "cancelled"].contains($0?["state"]?.stringValue ?? "") }

            try await submit("retry", #"{"kind":"debug.fail","payload":{"times":1},"maxRetries":1,"retryBackoff":{"initialMs":200,"jitter":0}}"#)
            try await submit("snooze", #"{"kind":"debug.snooze","payload":{"times":1,"ms":200},"maxRetries":0}"#)
            try await submit("timeout", #"{"kind":"debug.sleep","payload":{"ms":5000},"timeoutMs":400,"maxRetries":0}"#)
            try await submit("progress", #"{"kind":"debug.sleep","payload":{"ms":300}}"#)
            try await submit("delayed", #"{"kind":"debug.echo","payload":{"n":1},"delayMs":400}"#)

            try await submit("cancel", #"{"kind":"debug.sleep","payload":{"ms":30000}}"#, wait: false)
            try await until("cancel", "ran") { ($0?["progress"]?.doubleValue ?? 0) > 0 }
            #expect(try await serve.send("DELETE", "/v1/jobs/\(ids["cancel"]!)").json?["cancel"] == .string("requested"))
            try await until("cancel", "ended", ended)

            // One worker: the critical job preempts the low one, which then starts again (long
            // enough to be running still when the critical job comes, on a loaded machine).
            try await submit("preempted", #"{"kind":"debug.sleep","payload":{"ms":3000},"priority":"low"}"#, wait: false)
            try await until("preempted", "reported progress") { ($0?["progress"]?.doubleValue ?? 0) > 0 }
            try await submit("critical", #"{"kind":"debug.echo","payload":{},"priority":"critical"}"#)
            try await until("preempted", "ended", ended)

            var histories: [String: [String]] = [:]
            for (name, id) in ids {
                let (_, events) = try await HTTPClient.events(
                    port: serve.port, "/v1/jobs/\(id)/events", headers: serve.authorization,
                    timeout: .seconds(20))
                for event in events {
                    // Each is a JobEvent of the core's vocabulary, in both modes.
                    let decoded = try JobEvent(json: try #require(event.json, "\(name): \(event.data)"))
                    #expect(decoded.name == event.event)
                }
                // A run of progress reports is one step: how many a job reports is its own affair.
                histories[name] = events.map(\.event).reduce(into: []) { steps, step in
                    if step != "progress" || steps.last != "progress" { steps.append(step) }
                }
            }
            #expect(try await serve.terminate().status == 0)
            return histories
        }

        @Test func aJobsHistoryHasTheSameStepsInMemoryAndOnTheQueue() async throws {
            let inMemory = try await histories([])
            let onTheQueue = try await histories(["--queue", try database.url, "--schema", TestDatabase.schema()])
            let expected: [String: [String]] = [
                "retry": ["queued", "started", "retryScheduled", "started", "completed"],
                "snooze": ["queued", "started", "snoozed", "started", "completed"],
                "timeout": ["queued", "started", "stopRequested", "failed"],
                "progress": ["queued", "started", "progress", "completed"],
                "delayed": ["scheduled", "started", "completed"],
                "cancel": ["queued", "started", "progress", "cancelRequested", "stopRequested", "cancelled"],
                "preempted": ["queued", "started", "progress", "stopRequested", "preempted", "started", "progress", "completed"],
                "critical": ["queued", "started", "completed"]
            ]
            for name in expected.keys.sorted() {
                #expect(inMemory[name] == expected[name], "in memory, \(name)")
                #expect(onTheQueue[name] == inMemory[name], "on the queue, \(name)")
            }
        }
    }
}
