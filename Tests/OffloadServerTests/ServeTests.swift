#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OffloadServer
import OffloadTestSupport
import Testing
@testable import Offload

/// `offload serve` as its users meet it: a process on a free port, spoken to over sockets.
@Suite(.serialized) struct ServeTests {
    static let thread = ["--isolation", "thread", "--workers", "2"]

    /// Waits until `condition` holds, looking every 50 ms.
    func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw HTTPClient.Failure(description: "\(what) did not happen in \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func submit(_ server: ServeProcess, _ json: String, wait: Int? = nil) async throws -> (HTTPReply, [String]) {
        let reply = try await server.send("POST", "/v1/jobs" + (wait.map { "?wait=\($0)" } ?? ""), json: json)
        let ids = reply.json?["ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return (reply, ids)
    }

    @Test func healthReadinessTheDocumentAndTheDashboardArePublicAndTheDashboardIsLockedDown() async throws {
        let server = try await ServeProcess.start(Self.thread)
        for path in ["/healthz", "/readyz", "/openapi.json", "/", "/app.js", "/style.css", "/v1/auth"] {
            let reply = try await server.get(path, headers: [:])
            #expect(reply.status == 200, "\(path): \(reply.status) \(reply.text.prefix(200))")
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
        }
        let page = try await server.get("/", headers: [:])
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
        #expect(page.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
        #expect(page.text.contains("<script src=\"app.js\""))
        let again = try await server.get("/", headers: ["If-None-Match": page.header("ETag") ?? "none"])
        #expect(again.status == 304)
        let auth = try await server.get("/v1/auth", headers: [:]).json
        #expect(auth?["tokenRequired"] == .bool(true))
        #expect(auth?["authenticated"] == .bool(false))
        #expect(try await server.get("/v1/auth").json?["authenticated"] == .bool(true))
        // No CORS unless configured.
        #expect(
            try await server.get("/v1/overview", headers: server.authorization.merging(["Origin": "https://evil.example"]) { $1 })
                .header("Access-Control-Allow-Origin") == nil)
        #expect(try await server.terminate().status == 0)
    }

    @Test func theOpenAPIDocumentNamesEveryRouteAndEveryRouteAnswers() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let document = try #require(try await server.get("/openapi.json", headers: [:]).json)
        #expect(document["openapi"] == .string("3.1.0"))
        // One version, written once: the document served says the service's.
        #expect(document["info"]?["version"] == .string(OffloadService.version))
        #expect(try await server.get("/v1/overview").json?["version"] == .string(OffloadService.version))
        guard case .object(let paths)? = document["paths"] else {
            Issue.record("no paths")
            return
        }
        var documented: Set<String> = []
        for (path, operations) in paths {
            guard case .object(let methods) = operations else { continue }
            for (method, _) in methods { documented.insert("\(method.uppercased()) \(path)") }
        }
        let routed = Set(OffloadService.routes.map { "\($0.method) \($0.path)" })
        #expect(documented == routed)
        // Each route exists on the running service: none answers 404 for want of a route, nor 405.
        let (_, ids) = try await submit(server, #"{"kind":"debug.echo"}"#, wait: 5_000)
        let id = try #require(ids.first)
        for route in OffloadService.routes {
            let path =
                route.path.replacingOccurrences(of: "{id}", with: id)
                .replacingOccurrences(of: "{sha256}", with: String(repeating: "a", count: 64))
                .replacingOccurrences(of: "{kind}", with: "debug.echo").replacingOccurrences(of: "{name}", with: "none")
                + (route.path.hasPrefix("/og.") ? "?title=Route" : "")
            let reply: HTTPReply
            if path.hasSuffix("/events") || path == "/v1/stream" {
                reply = try await HTTPClient.events(port: server.port, path, headers: server.authorization, timeout: .seconds(3)) { !$0.isEmpty }.0
            } else {
                let body = route.method == "POST" ? #"{"kind":"debug.echo"}"# : route.method == "PUT" ? "{}" : nil
                reply = try await server.send(route.method, path, json: body)
            }
            // No such artifact, no such schedule: a 404 that names what is missing, not the route.
            let expected404 = route.path == "/v1/artifacts/{sha256}" || route.path.hasPrefix("/v1/schedules/{name}")
            #expect(reply.status != 405, "\(route.method) \(path)")
            #expect(reply.status != 404 || expected404, "\(route.method) \(path): \(reply.text.prefix(200))")
            #expect(reply.status < 500, "\(route.method) \(path): \(reply.status) \(reply.text.prefix(200))")
        }
        #expect(try await server.get("/no/such/route").status == 404)
        #expect(try await server.terminate().status == 0)
    }

    @Test func aSchedulesFileRunsItsTicksAndABadOneStopsTheServiceNamingTheLine() async throws {
        let folder = temporaryFolder("serve-schedules")
        let file = folder + "/schedules.jsonl"
        try Data(
            """
            # Every second, and a nightly one.
            {"name":"every-second","cron":"* * * * * *","job":{"kind":"debug.echo","payload":{"n":1}}}
            {"name":"nightly","cron":"0 3 * * *","timeZone":"Europe/Paris","missed":"runOnce","job":{"kind":"debug.echo"}}

            """.utf8
        ).write(to: URL(fileURLWithPath: file))
        let server = try await ServeProcess.start(["--schedules", file, "--isolation", "thread"])
        let names = try await server.get("/v1/schedules").json?["schedules"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["every-second", "nightly"])
        try await eventually("a tick's job completes") {
            try await server.get("/v1/jobs?tag=schedule:every-second&state=completed").json?["jobs"]?.arrayValue?.isEmpty == false
        }
        #expect(try await server.terminate().status == 0)

        try Data(#"{"name":"bad","cron":"* * * *","job":{"kind":"debug.echo"}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let refused = try await runCommand(builtExecutable("offload"), ["serve", "--port", "0", "--diagnostics", "--schedules", file])
        #expect(refused.status != 0 && refused.output.contains("line 1: cron:"), "\(refused.output)")
        removeTree(folder)
    }

    @Test func writesNeedTheTokenAndReadsTooUnlessTheyArePublic() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let noToken = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo"}"#, headers: [:])
        #expect(noToken.status == 401)
        #expect(noToken.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(noToken.json?["error"]?["code"] == .string("unauthorized"))
        let wrong = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo"}"#, headers: ["Authorization": "Bearer test-token-0124"])
        #expect(wrong.status == 401)
        let prefix = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo"}"#, headers: ["Authorization": "Bearer test-token-012"])
        #expect(prefix.status == 401)
        for path in ["/v1/jobs", "/v1/overview", "/metrics", "/v1/jobs/x", "/v1/artifacts/\(String(repeating: "0", count: 64))"] {
            #expect(try await server.get(path, headers: [:]).status == 401, "\(path)")
        }
        #expect(try await server.send("DELETE", "/v1/jobs/x", headers: [:]).status == 401)
        #expect(try await server.get("/og.png?title=Public").status == 200)
        #expect(try await server.terminate().status == 0)

        let open = try await ServeProcess.start(Self.thread + ["--public-reads"])
        #expect(try await open.get("/v1/jobs", headers: [:]).status == 200)
        #expect(try await open.get("/v1/overview", headers: [:]).status == 200)
        #expect(try await open.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo"}"#, headers: [:]).status == 401)
        #expect(try await open.terminate().status == 0)
    }

    @Test func jobsAreSubmittedWaitedForListedPagedAndRefusedWithTheFieldNamed() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let (done, ids) = try await submit(server, #"{"kind":"debug.echo","payload":{"hello":"world"}}"#, wait: 10_000)
        #expect(done.status == 201)
        let job = try #require(done.json?["jobs"]?[0])
        #expect(job["state"] == .string("completed"))
        #expect(job["result"] == ["hello": "world"])
        #expect(job["id"]?.stringValue == ids.first)
        let fetched = try await server.get("/v1/jobs/\(ids[0])")
        #expect(fetched.status == 200)
        #expect(fetched.json?["result"] == ["hello": "world"])

        let (batch, batchIDs) = try await submit(
            server, #"[{"kind":"debug.echo","id":"b1"},{"kind":"debug.echo","id":"b2"},{"kind":"debug.echo","id":"b3"}]"#)
        #expect(batch.status == 201)
        #expect(batchIDs == ["b1", "b2", "b3"])
        let taken = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","id":"b2"}"#)
        #expect(taken.status == 409)
        #expect(taken.json?["error"]?["code"] == .string("duplicateJob"))
        try await eventually("the batch completes") { try await server.get("/v1/jobs?state=completed").json?["jobs"]?.arrayValue?.count == 4 }
        // Newest first, two a page, the cursor the last id of a page.
        let first = try #require(try await server.get("/v1/jobs?limit=2").json)
        #expect(first["jobs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["b3", "b2"])
        #expect(first["next"] == .string("b2"))
        let second = try #require(try await server.get("/v1/jobs?limit=2&after=b2").json)
        #expect(second["jobs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["b1", ids[0]])
        #expect(second["next"] == .null)
        #expect(try await server.get("/v1/jobs?kind=debug.sleep").json?["jobs"]?.arrayValue?.isEmpty == true)

        let refusals: [(String, Int, String?)] = [
            (#"{"kind":"debug.echo","priority":"urgent"}"#, 400, "priority"),
            (#"{"kind":"debug.echo","timeoutMs":-5}"#, 400, "timeoutMs"),
            (#"{"kind":"no.such.kind"}"#, 400, "kind"),
            (#"{"kind":"debug.echo","colour":"red"}"#, 400, "colour"),
            (#"{"kind":"image","payload":{"params":{"title":5}}}"#, 400, "payload.params.title"),
            (#"[{"kind":"debug.echo"},{"kind":"debug.sleep","payload":{"ms":"long"}}]"#, 400, "jobs[1].payload.ms"),
            (#"{"kind":"debug.echo""#, 400, nil),
            ("[]", 400, nil),
            ("42", 400, nil)
        ]
        for (body, status, field) in refusals {
            let reply = try await server.send("POST", "/v1/jobs", json: body)
            #expect(reply.status == status, "\(body): \(reply.text)")
            #expect(reply.json?["error"]?["field"]?.stringValue == field, "\(body): \(reply.text)")
            #expect(reply.json?["error"]?["message"]?.stringValue?.isEmpty == false)
        }
        #expect(try await server.get("/v1/jobs/no-such-job").status == 404)
        #expect(try await server.get("/v1/jobs?state=lost").json?["error"]?["field"] == .string("state"))
        #expect(try await server.get("/v1/jobs?limit=0").status == 400)
        #expect(try await server.get("/v1/jobs?after=no-such-job").status == 404)
        // Nothing refused reached the pool: the five jobs are all there are.
        #expect(try await server.get("/v1/overview").json?["totals"]?["submitted"] == .int(4))
        #expect(try await server.terminate().status == 0)
    }

    @Test func aJobsEventsArriveInOrderAndAReconnectGetsOnlyWhatItMissed() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let (_, ids) = try await submit(server, #"{"kind":"debug.sleep","payload":{"ms":700}}"#)
        let id = try #require(ids.first)
        let (head, events) = try await HTTPClient.events(port: server.port, "/v1/jobs/\(id)/events", headers: server.authorization)
        #expect(head.status == 200)
        #expect(head.header("Content-Type") == "text/event-stream; charset=utf-8")
        let kinds = events.map(\.event)
        #expect(kinds.first == "queued")
        #expect(kinds.dropFirst().first == "started")
        #expect(kinds.last == "completed")
        #expect(kinds.contains("progress"))
        #expect(Set(kinds.dropFirst(2).dropLast()) == ["progress"])
        let sequence = events.compactMap { $0.id.flatMap(Int.init) }
        #expect(sequence == Array(1...events.count))
        #expect(events.last?.json?["state"] == .string("completed"))
        #expect(events.allSatisfy { $0.json?["job"] == .string(id) && $0.json?["type"]?.stringValue == $0.event })
        // Every event reads back as the one vocabulary of job events.
        #expect(events.allSatisfy { event in event.json.map { (try? JobEvent(json: $0)) != nil } == true })
        // Resumed after the second event: the rest, and the stream ends with the job's end.
        let (_, rest) = try await HTTPClient.events(
            port: server.port, "/v1/jobs/\(id)/events", headers: server.authorization.merging(["Last-Event-ID": "2"]) { $1 })
        #expect(rest.compactMap(\.id) == events.dropFirst(2).compactMap(\.id))
        #expect(try await server.get("/v1/jobs/nope/events").status == 404)
        #expect(try await server.terminate().status == 0)
    }

    @Test func aRunningJobIsCancelledAndRetriedAndACrashOnlyFailsItsJob() async throws {
        // Process isolation: the crash happens in a worker process, as users' jobs would.
        let server = try await ServeProcess.start(["--workers", "2"])
        let (_, ids) = try await submit(server, #"{"kind":"debug.sleep","payload":{"ms":20000}}"#)
        let id = try #require(ids.first)
        try await eventually("the job runs") { try await server.get("/v1/jobs/\(id)").json?["state"] == .string("running") }
        let cancel = try await server.send("DELETE", "/v1/jobs/\(id)")
        #expect(cancel.status == 200)
        #expect(cancel.json?["cancel"] == .string("requested"))
        try await eventually("the job is cancelled") { try await server.get("/v1/jobs/\(id)").json?["state"] == .string("cancelled") }
        #expect(try await server.send("DELETE", "/v1/jobs/\(id)").json?["cancel"] == .string("alreadyFinished"))
        #expect(try await server.send("DELETE", "/v1/jobs/nope").status == 404)

        let (crashed, crashIDs) = try await submit(server, #"{"kind":"debug.crash"}"#, wait: 20_000)
        let crash = try #require(crashed.json?["jobs"]?[0])
        #expect(crash["state"] == .string("failed"))
        #expect(crash["error"]?["code"] == .string("workerCrashed"))
        // The service lives on, and the job can be tried again; its events number on from the
        // first attempt's, so a stream resumed after them sees the new attempt.
        let (_, before) = try await HTTPClient.events(port: server.port, "/v1/jobs/\(crashIDs[0])/events", headers: server.authorization)
        let lastSeen = try #require(before.last?.id)
        let retry = try await server.send("POST", "/v1/jobs/\(crashIDs[0])/retry")
        #expect(retry.status == 202)
        try await eventually("the retried job ends") { try await server.get("/v1/jobs/\(crashIDs[0])").json?["state"] == .string("failed") }
        let (_, after) = try await HTTPClient.events(
            port: server.port, "/v1/jobs/\(crashIDs[0])/events",
            headers: server.authorization.merging(["Last-Event-ID": lastSeen]) { $1 })
        #expect(after.first?.event == "queued")
        #expect(after.first?.id == String(Int(lastSeen)! + 1))
        #expect(after.last?.event == "failed")
        let (echo, _) = try await submit(server, #"{"kind":"debug.echo","payload":1}"#, wait: 10_000)
        #expect(echo.json?["jobs"]?[0]?["state"] == .string("completed"))
        #expect(try await server.send("POST", "/v1/jobs/\(ids[0])/retry").status == 202)
        #expect(try await server.send("POST", "/v1/jobs/nope/retry").status == 404)
        #expect(try await server.terminate().status == 0)
    }

    @Test func cardsAreCachedByEveryParameterThatChangesAPixelAndRenderedOnceWhenAskedForTogether() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let path = "/og.png?title=Cached+card&description=Drawn+once&template=midnight"
        let first = try await server.get(path, headers: [:])
        #expect(first.status == 200, "\(first.text.prefix(300))")
        #expect(first.header("Content-Type") == "image/png")
        #expect(first.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(first.header("X-Cache") == "miss")
        let etag = try #require(first.header("ETag"))
        let second = try await server.get(path, headers: [:])
        #expect(second.header("X-Cache") == "hit")
        #expect(second.header("ETag") == etag)
        #expect(second.body == first.body)
        let notModified = try await server.get(path, headers: ["If-None-Match": etag])
        #expect(notModified.status == 304)
        #expect(notModified.body.isEmpty)
        // A colour is part of the key: another colour is another card (the upstream crate served the first).
        let red = try await server.get(path + "&textColor=%23ff0000", headers: [:])
        #expect(red.header("X-Cache") == "miss")
        #expect(red.header("ETag") != etag)
        #expect(red.body != first.body)
        // Eight identical requests at once: one render.
        let together = "/og.jpg?title=Together&quality=80"
        let replies = try await withThrowingTaskGroup(of: HTTPReply.self) { group in
            for _ in 0..<8 { group.addTask { try await server.get(together, headers: [:]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 200 && $0.body.starts(with: [0xFF, 0xD8, 0xFF]) })
        #expect(Set(replies.map(\.body)).count == 1)
        // Three cards drawn (the card pool's own: cards are not jobs of the store in memory).
        #expect(try await server.get("/metrics").text.contains("offload_card_cache_misses_total 3\n"))
        #expect(try await server.get("/v1/jobs?kind=image").json?["jobs"]?.arrayValue?.isEmpty == true)
        // HEAD wherever GET works: a link unfurler's first question.
        let head = try await HTTPClient.request("HEAD", port: server.port, path)
        #expect(head.status == 200)
        #expect(head.header("Content-Type") == "image/png")
        #expect(head.body.isEmpty)
        let webp = try await server.get("/og.webp?title=WebP", headers: [:])
        #expect(webp.header("Content-Type") == "image/webp")
        #expect(Array(webp.body.prefix(4)) == Array("RIFF".utf8))
        let metrics = try await server.get("/metrics").text
        #expect(metrics.contains("offload_card_cache_misses_total 4\n"))
        #expect(metrics.contains("offload_jobs_ended_total{pool=\"cards\",kind=\"image\",status=\"completed\"} 4\n"))
        #expect(metrics.contains("offload_http_requests_total{method=\"GET\",route=\"/og.png\",status=\"200\"} "))
        #expect(metrics.contains("offload_job_run_seconds_count{pool=\"cards\",kind=\"image\"} 4\n"))
        let problems = try await promtoolProblems(metrics)
        #expect(problems.isEmpty, "\(problems)")
        #expect(try await server.terminate().status == 0)
    }

    @Test func badCardParametersAre400sNamingTheParameterAndNoFileOutsideTheAllowedFoldersIsRead() async throws {
        let allowed = temporaryFolder("serve-logos")
        defer { removeTree(allowed) }
        let server = try await ServeProcess.start(Self.thread + ["--allow-root", allowed])
        let cases: [(String, String, Int)] = [
            ("/og.png", "title", 400),
            ("/og.png?title=A&titleFontSize=huge", "titleFontSize", 400),
            ("/og.png?title=A&colour=red", "colour", 400),
            ("/og.png?title=A&template=neon", "template", 400),
            ("/og.png?title=A&textColor=notacolour", "textColor", 400),
            ("/og.png?title=A&width=99999", "width", 400),
            ("/og.png?title=A&quality=50", "quality", 400),
            ("/og.png?title=A&logo=/etc/passwd", "logo", 404),
            ("/og.png?title=A&logo=\(allowed)/../../etc/hostname", "logo", 404),
            ("/og.png?title=A&logo=http://169.254.169.254/latest", "logo", 400),
            ("/og.png?title=A&title=B", "title", 400),
            ("/og.png?title=%ZZ", "title", 400)
        ]
        for (path, field, status) in cases {
            let reply = try await server.get(path, headers: [:])
            #expect(reply.status == status, "\(path): \(reply.status) \(reply.text)")
            #expect(reply.json?["error"]?["field"] == .string(field), "\(path): \(reply.text)")
            #expect(!reply.text.contains("allowed: ") && !reply.text.contains("/tmp/offload-\(getuid())"), "\(path) leaks a path: \(reply.text)")
        }
        // A picture in the allowed folder is drawn.
        let logo = allowed + "/logo.svg"
        writeFile(
            logo,
            Array(##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="#f59e0b"/></svg>"##.utf8))
        let card = try await server.get("/og.png?title=With+logo&logo=\(logo)", headers: [:])
        #expect(card.status == 200, "\(card.text.prefix(300))")
        #expect(try await server.terminate().status == 0)
    }

    @Test func bodiesOverTheLimitAre413AndBurstsOverTheRateAre429WithRetryAfter() async throws {
        let server = try await ServeProcess.start(Self.thread + ["--max-body-bytes", "2048", "--rate-limit", "3", "--render-rate-limit", "2"])
        let big = #"{"kind":"debug.echo","payload":""# + String(repeating: "x", count: 4_000) + #""}"#
        let tooLarge = try await server.send("POST", "/v1/jobs", json: big)
        #expect(tooLarge.status == 413)
        #expect(tooLarge.json?["error"]?["code"] == .string("bodyTooLarge"))
        for _ in 0..<2 { #expect(try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo"}"#).status == 201) }
        let limited = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo"}"#)
        #expect(limited.status == 429)
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        // Renders: two new cards a minute; a cached one is always served.
        #expect(try await server.get("/og.png?title=One", headers: [:]).status == 200)
        #expect(try await server.get("/og.png?title=Two", headers: [:]).status == 200)
        let third = try await server.get("/og.png?title=Three", headers: [:])
        #expect(third.status == 429)
        #expect(third.header("Retry-After") != nil)
        #expect(try await server.get("/og.png?title=One", headers: [:]).status == 200)
        #expect(try await server.terminate().status == 0)
    }

    @Test func filesJobsWriteAreServedByTheirHashAndNoPathOfTheHostShows() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let (reply, _) = try await submit(
            server, #"{"kind":"image","payload":{"params":{"title":"An artifact"},"outputFormat":"png"}}"#, wait: 20_000)
        let result = try #require(reply.json?["jobs"]?[0]?["result"])
        #expect(result["file"] == nil)
        #expect(!reply.text.contains("/tmp/"))
        let sha256 = try #require(result["artifact"]?["sha256"]?.stringValue)
        let file = try await server.get("/v1/artifacts/\(sha256)")
        #expect(file.status == 200)
        #expect(file.header("Content-Type") == "image/png")
        #expect(file.header("ETag") == "\"\(sha256)\"")
        #expect(file.header("Cache-Control")?.contains("immutable") == true)
        #expect(SHA256.hex(file.body) == sha256)
        #expect(
            try await server.get("/v1/artifacts/\(sha256)", headers: server.authorization.merging(["If-None-Match": "\"\(sha256)\""]) { $1 }).status
                == 304)
        #expect(try await server.get("/v1/artifacts/\(String(repeating: "0", count: 64))").status == 404)
        #expect(try await server.get("/v1/artifacts/..%2F..%2Fetc%2Fpasswd").status == 404)
        #expect(try await server.terminate().status == 0)
    }

    @Test func theDashboardStreamSendsOverviewsAndJobChanges() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let overview = try #require(try await server.get("/v1/overview").json)
        #expect(overview["mode"] == .string("memory"))
        #expect(overview["workers"]?.arrayValue?.isEmpty == false)
        #expect(overview["kinds"]?.arrayValue?.contains(.string("image")) == true)
        let submitter = Task {
            try await Task.sleep(for: .milliseconds(300))
            _ = try await submit(server, #"{"kind":"debug.echo","id":"streamed"}"#)
        }
        let (_, events) = try await HTTPClient.events(port: server.port, "/v1/stream", headers: server.authorization, timeout: .seconds(15)) {
            events in
            events.contains { $0.event == "overview" } && events.contains { $0.event == "job" && $0.json?["state"] == .string("completed") }
        }
        try await submitter.value
        #expect(events.contains { $0.event == "overview" && $0.json?["totals"] != nil })
        let changes = events.filter { $0.event == "job" && $0.json?["id"] == .string("streamed") }.compactMap { $0.json?["state"]?.stringValue }
        #expect(changes.first == "queued")
        #expect(changes.last == "completed")
        #expect(try await server.terminate().status == 0)
    }

    @Test func sigtermStopsTakingRequestsLetsTheRunningJobFinishAndExitsZero() async throws {
        let server = try await ServeProcess.start(Self.thread)
        let (_, ids) = try await submit(server, #"{"kind":"debug.sleep","payload":{"ms":1500}}"#)
        try await eventually("the job runs") { try await server.get("/v1/jobs/\(ids[0])").json?["state"] == .string("running") }
        // A stream open at the time ends with the service.
        let stream = Task { try await HTTPClient.events(port: server.port, "/v1/stream", headers: server.authorization, timeout: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        kill(server.pid, SIGTERM)
        let (status, output) = try await server.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "\(output)")
        #expect(ContinuousClock.now - started >= .milliseconds(700), "the running job was not waited for")
        #expect(output.contains("stopped"))
        _ = try await stream.value
        let refused = try? await HTTPClient.request("GET", port: server.port, "/healthz", timeout: .seconds(2))
        #expect(refused == nil)
    }
}
