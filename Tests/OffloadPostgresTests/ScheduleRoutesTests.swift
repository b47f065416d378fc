import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// `/v1/schedules`: added, listed with their runs, paused, removed and refused the same in
    /// memory (the pool's) and on PostgreSQL (the queue's), and their ticks' jobs listed by the
    /// schedule's tag.
    @Suite struct ScheduleRoutesTests {
        func answers(_ options: [String]) async throws -> [JSONValue] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "2"])
            var answers: [JSONValue] = []
            func note(_ reply: HTTPReply) {
                answers.append(
                    .object([
                        ("status", .int(Int64(reply.status))), ("body", reply.json?["error"]?["field"] ?? reply.json?["error"]?["code"] ?? .null)
                    ]))
            }
            let added = try await serve.send(
                "POST", "/v1/schedules",
                json:
                    #"{"name":"every-second","cron":"* * * * * *","timeZone":"Europe/Paris","job":{"kind":"debug.echo","payload":{"n":1},"tags":["t"]}}"#
            )
            #expect(added.status == 201, "\(added.text)")
            answers.append(added.json?["job"] ?? .null)
            // Read back after it is added: on a loaded machine its first tick may have run by then.
            #expect(added.json?["nextRun"]?.stringValue != nil)
            #expect(added.json?["lastRun"] == .null || added.json?["lastRun"]?.stringValue != nil)
            // Its ticks run, each a job tagged with the schedule.
            let deadline = ContinuousClock.now + .seconds(20)
            var listed: [JSONValue] = []
            while listed.count < 2 {
                guard ContinuousClock.now < deadline else { throw OffloadError(.timedOut, "the schedule's ticks did not run") }
                try await Task.sleep(for: .milliseconds(200))
                listed = try await serve.get("/v1/jobs?tag=schedule:every-second&state=completed").json?["jobs"]?.arrayValue ?? []
            }
            answers.append(listed[0]["tags"] ?? .null)
            let schedules = try await serve.get("/v1/schedules").json?["schedules"]?.arrayValue ?? []
            #expect(schedules.count == 1)
            #expect(schedules.first?["lastRun"]?.stringValue != nil && schedules.first?["lastJob"]?.stringValue != nil)
            let paused = try await serve.send("POST", "/v1/schedules/every-second/pause")
            answers.append(.object([("status", .int(Int64(paused.status))), ("paused", paused.json?["paused"] ?? .null)]))
            note(try await serve.send("DELETE", "/v1/schedules/every-second"))
            note(try await serve.send("DELETE", "/v1/schedules/every-second"))
            note(try await serve.send("POST", "/v1/schedules/nothing/resume"))
            // Refused, naming the field.
            for body in [
                #"{"name":"x","cron":"61 * * * *","job":{"kind":"debug.echo"}}"#,
                #"{"name":"x","cron":"@daily","timeZone":"Mars/Olympus","job":{"kind":"debug.echo"}}"#,
                #"{"name":"x y","cron":"@daily","job":{"kind":"debug.echo"}}"#,
                #"{"name":"x","cron":"@daily","job":{"kind":"debug.echo","delayMs":5}}"#,
                #"{"name":"x","cron":"@daily","job":{"kind":"debug.echo","timeoutMs":99999999}}"#,
                #"{"name":"x","cron":"@daily","job":{"kind":"no.such.kind"}}"#,
                #"{"name":"x","cron":"@daily","missed":"never","job":{"kind":"debug.echo"}}"#,
                #"{"name":"x","cron":"@daily"}"#,
                #"{"name":"x","cron":"@daily","job":{"kind":"debug.echo"},"colour":"red"}"#
            ] {
                note(try await serve.send("POST", "/v1/schedules", json: body))
            }
            #expect(try await serve.get("/v1/schedules").json?["schedules"] == [])
            #expect(try await serve.terminate().status == 0)
            return answers
        }

        @Test func schedulesAnswerTheSameInMemoryAndOnTheQueue() async throws {
            let inMemory = try await answers([])
            let onTheQueue = try await answers(["--queue", try database.url, "--schema", TestDatabase.schema()])
            let expected: [JSONValue] = [
                ["kind": "debug.echo", "payload": ["n": 1], "priority": "normal", "tags": ["t"]],
                ["t", "schedule:every-second"],
                ["status": 200, "paused": true],
                ["status": 200, "body": .null],
                ["status": 404, "body": "notFound"],
                ["status": 404, "body": "notFound"],
                ["status": 400, "body": "cron"],
                ["status": 400, "body": "timeZone"],
                ["status": 400, "body": "name"],
                ["status": 400, "body": "job.delayMs"],
                ["status": 400, "body": "job.timeoutMs"],
                ["status": 400, "body": "job.kind"],
                ["status": 400, "body": "missed"],
                ["status": 400, "body": "job"],
                ["status": 400, "body": "colour"]
            ]
            #expect(inMemory == expected)
            #expect(onTheQueue == expected)
        }
    }
}
