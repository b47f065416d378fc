import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// `dependsOn` over HTTP: a batch given in any order, a job's view with what it waits for
    /// and what waits for it, a failure's cancels, and the refusals — the same in memory and on
    /// PostgreSQL.
    @Suite struct DependencyRoutesTests {
        func answers(_ options: [String]) async throws -> [JSONValue] {
            let serve = try await ServeProcess.start(options + ["--isolation", "thread", "--workers", "2"])
            let (root, child, grandchild, anyway) = (
                UUID().uuidString.lowercased(), UUID().uuidString.lowercased(), UUID().uuidString.lowercased(), UUID().uuidString.lowercased()
            )
            var answers: [JSONValue] = []
            // Dependents first: the batch is ordered by its links.
            let submitted = try await serve.send(
                "POST", "/v1/jobs?wait=20000",
                json: """
                    [{"id":"\(grandchild)","kind":"debug.echo","dependsOn":["\(child)"]},
                     {"id":"\(anyway)","kind":"debug.echo","dependsOn":["\(root)","\(child)"],"onDependencyFailure":"run"},
                     {"id":"\(child)","kind":"debug.echo","dependsOn":["\(root)"]},
                     {"id":"\(root)","kind":"debug.fail","payload":{"times":9}}]
                    """)
            #expect(submitted.status == 201, "\(submitted.text)")
            #expect(submitted.json?["ids"] == .array([grandchild, anyway, child, root].map { .string($0) }))
            answers.append(.array((submitted.json?["jobs"]?.arrayValue ?? []).map { $0["state"] ?? .null }))
            let view = try await serve.get("/v1/jobs/\(child)").json
            answers.append(view?["dependsOn"] == .array([.string(root)]) ? "dependsOn" : view?["dependsOn"] ?? .null)
            answers.append(.array((view?["dependencies"]?.arrayValue ?? []).map { [$0["kind"] ?? .null, $0["state"] ?? .null] }))
            answers.append(.array((view?["dependents"]?.arrayValue ?? []).map { $0["state"] ?? .null }.sorted { "\($0)" < "\($1)" }))
            answers.append(view?["error"]?["code"] ?? .null)
            #expect(view?["error"]?["message"]?.stringValue?.contains(root) == true)
            // Refused: a job the store does not hold, a cycle; nothing of the batch is kept.
            let other = UUID().uuidString.lowercased()
            for body in [
                #"{"kind":"debug.echo","dependsOn":["\#(other)"]}"#,
                #"[{"id":"\#(other)","kind":"debug.echo","dependsOn":["\#(root)x"]}]"#,
                #"[{"id":"\#(other)","kind":"debug.echo","dependsOn":["\#(anyway)","\#(other)"]}]"#,
                #"{"kind":"debug.echo","dependsOn":"\#(root)"}"#,
                #"{"kind":"debug.echo","dependsOn":["\#(root)"],"onDependencyFailure":"maybe"}"#
            ] {
                let reply = try await serve.send("POST", "/v1/jobs", json: body)
                answers.append(.object([("status", .int(Int64(reply.status))), ("field", reply.json?["error"]?["field"] ?? .null)]))
            }
            #expect(try await serve.get("/v1/jobs/\(other)").status == 404)
            #expect(try await serve.terminate().status == 0)
            return answers
        }

        @Test func dependenciesAnswerTheSameInMemoryAndOnTheQueue() async throws {
            let inMemory = try await answers([])
            let onTheQueue = try await answers(["--queue", try database.url, "--schema", TestDatabase.schema()])
            let expected: [JSONValue] = [
                ["cancelled", "completed", "cancelled", "failed"],
                "dependsOn",
                [["debug.fail", "failed"]],
                ["cancelled", "completed"],
                "dependencyFailed",
                ["status": 422, "field": "dependsOn"],
                ["status": 422, "field": "dependsOn"],
                ["status": 422, "field": "jobs[0].dependsOn"],
                ["status": 400, "field": "dependsOn"],
                ["status": 400, "field": "onDependencyFailure"]
            ]
            #expect(inMemory == expected)
            #expect(onTheQueue == expected)
        }
    }
}
