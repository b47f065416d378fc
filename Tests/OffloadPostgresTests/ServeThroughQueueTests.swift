import Foundation
import Offload
import OffloadTestSupport
import Testing

extension PostgresTests {
    /// Two `offload serve --queue` hosts sharing one queue, as a site behind a load balancer runs
    /// them: a job submitted to one is seen, followed and cancelled through the other, and a
    /// card drawn by one is served by the other from the queue without being drawn again.
    @Suite struct ServeThroughQueueTests {
        @Test func twoServiceHostsShareTheQueueItsJobsAndItsCards() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            let options = ["--queue", url, "--schema", schema, "--isolation", "thread", "--workers", "2"]
            let first = try await ServeProcess.start(options)
            let second = try await ServeProcess.start(options)
            // Ready once its schema is migrated (the other host may hold the migration's lock).
            var ready = false
            for _ in 0..<300 where !ready {
                ready = try await first.get("/readyz", headers: [:]).status == 200
                if !ready { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ready)
            #expect(try await first.get("/v1/overview").json?["mode"] == .string("postgres"))

            let submitted = try await first.send("POST", "/v1/jobs?wait=20000", json: #"{"kind":"debug.echo","payload":{"through":"the queue"}}"#)
            #expect(submitted.status == 201, "\(submitted.text)")
            let id = try #require(submitted.json?["ids"]?[0]?.stringValue)
            let seen = try await second.get("/v1/jobs/\(id)")
            #expect(seen.json?["state"] == .string("completed"))
            #expect(seen.json?["result"] == ["through": "the queue"])
            #expect(try await second.get("/v1/jobs?limit=5").json?["jobs"]?[0]?["id"]?.stringValue == id)

            // Followed through the second host while it runs, cancelled through the first.
            let long = try await second.send("POST", "/v1/jobs", json: #"{"kind":"debug.sleep","payload":{"ms":30000}}"#)
            let longID = try #require(long.json?["ids"]?[0]?.stringValue)
            let cancelling = Task {
                while try await first.get("/v1/jobs/\(longID)").json?["state"] != .string("running") { try await Task.sleep(for: .milliseconds(50)) }
                return try await first.send("DELETE", "/v1/jobs/\(longID)")
            }
            let (_, events) = try await HTTPClient.events(
                port: second.port, "/v1/jobs/\(longID)/events", headers: second.authorization, timeout: .seconds(30))
            #expect(try await cancelling.value.json?["cancel"] == .string("requested"))
            #expect(events.first?.event == "queued")
            #expect(events.contains { $0.event == "started" })
            #expect(events.last?.event == "cancelled")
            #expect(events.last?.json?["state"] == .string("cancelled"))

            // A card drawn through one host is the other's too, from the queue.
            let card = "/og.png?title=Shared+card&template=forest"
            let drawn = try await first.get(card, headers: [:])
            #expect(drawn.status == 200, "\(drawn.text.prefix(300))")
            let served = try await second.get(card, headers: [:])
            #expect(served.status == 200)
            #expect(served.body == drawn.body)
            #expect(served.header("ETag") == drawn.header("ETag"))
            let images = try await second.get("/v1/jobs?kind=image").json?["jobs"]?.arrayValue ?? []
            #expect(images.count == 1)
            let sha256 = try #require(images.first?["result"]?["artifact"]?["sha256"]?.stringValue)
            #expect(try await second.get("/v1/artifacts/\(sha256)").body == drawn.body)

            // The metrics of a queue host: the jobs its own pools ran and the requests it
            // answered, under Prometheus's conventions. Either host may have run the echo.
            let metrics = try await first.get("/metrics").text
            let others = try await second.get("/metrics").text
            let echoed = "offload_jobs_ended_total{pool=\"default\",kind=\"debug.echo\",status=\"completed\"} 1\n"
            #expect(metrics.contains(echoed) != others.contains(echoed))
            #expect(metrics.contains("offload_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"201\"} 1\n"))
            for text in [metrics, others] {
                let problems = try await promtoolProblems(text)
                #expect(problems.isEmpty, "\(problems)")
            }

            #expect(try await first.terminate().status == 0)
            #expect(try await second.terminate().status == 0)
        }
    }
}
