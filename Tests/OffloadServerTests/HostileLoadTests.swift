#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// `offload serve` as an attacker meets it: every store, stream and connection bounded, no
/// answer lost, no request able to take the service off the air.
@Suite(.serialized) struct HostileLoadTests {
    let serve = ServeTests()

    @Test func theDiagnosticKindsAreOffUnlessAskedFor() async throws {
        let server = try await ServeProcess.start(ServeTests.thread, diagnostics: false)
        for body in [#"{"kind":"debug.alloc","payload":{"mb":4000}}"#, #"{"kind":"debug.hang"}"#] {
            let reply = try await server.send("POST", "/v1/jobs", json: body)
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.json?["error"]?["code"] == .string("unknownKind"))
            #expect(reply.json?["error"]?["field"] == .string("kind"))
        }
        let kinds = try await server.get("/openapi.json", headers: [:]).json?["components"]?["schemas"]?["NewJob"]?["properties"]?["kind"]?["enum"]
        #expect(kinds?.arrayValue?.contains(.string("image")) == true)
        #expect(kinds?.arrayValue?.contains { $0.stringValue?.hasPrefix("debug.") == true } == false)
        #expect(try await server.terminate().status == 0)
    }

    @Test func inThreadsAHugeAllocationIsRefusedAndStuckJobsCannotPileUpThreads() async throws {
        let server = try await ServeProcess.start(["--isolation", "thread", "--workers", "1", "--max-abandoned-threads", "2"])
        let alloc = try await server.send("POST", "/v1/jobs?wait=10000", json: #"{"kind":"debug.alloc","payload":{"mb":4000}}"#)
        #expect(alloc.json?["jobs"]?[0]?["error"]?["code"] == .string("resourceLimitExceeded"), "\(alloc.text)")
        let before = try #require(processStatus(server.pid, "Threads"))
        let hangs = String(repeating: #"{"kind":"debug.hang","timeoutMs":100},"#, count: 6).dropLast()
        let reply = try await server.send("POST", "/v1/jobs?wait=40000", json: "[\(hangs)]")
        let ended = reply.json?["jobs"]?.arrayValue ?? []
        #expect(ended.count == 6, "\(reply.text.prefix(500))")
        let codes = ended.compactMap { $0["error"]?["code"]?.stringValue }
        #expect(codes.filter { $0 == "timedOut" }.count == 2, "\(codes)")
        #expect(codes.filter { $0 == "workerStartFailed" }.count == 4, "\(codes)")
        #expect(ended.last?["error"]?["message"]?.stringValue?.contains("maxAbandonedThreads") == true)
        let after = try #require(processStatus(server.pid, "Threads"))
        #expect(after - before <= 4, "threads \(before) → \(after)")
        #expect(try await server.get("/healthz", headers: [:]).status == 200)
        _ = try await server.terminate(timeout: .seconds(5))
    }

    @Test func theStoreIsBoundedInBytesAndAWaitedForJobIsAlwaysAnswered() async throws {
        let server = try await ServeProcess.start(ServeTests.thread + ["--store-mb", "4", "--rate-limit", "0"])
        let pad = String(repeating: "x", count: 300_000)
        var first: String?
        // Each job's payload and result are 300 KB: the store drops the oldest finished ones as
        // it goes, yet every waiting client gets its job.
        for index in 0..<30 {
            let reply = try await server.send(
                "POST", "/v1/jobs?wait=10000", json: #"{"kind":"debug.echo","payload":{"n":\#(index),"pad":"\#(pad)"}}"#)
            #expect(reply.status == 201, "\(reply.status) \(reply.text.prefix(300))")
            #expect(reply.json?["jobs"]?[0]?["result"]?["n"] == .int(Int64(index)))
            if first == nil { first = reply.json?["ids"]?[0]?.stringValue }
        }
        #expect(try await server.get("/v1/jobs/\(try #require(first))").status == 404)
        let kept = try await server.get("/v1/jobs?limit=500").json?["jobs"]?.arrayValue?.count ?? 0
        #expect(kept >= 1 && kept <= 14, "kept \(kept)")
        // Unfinished jobs are never dropped: past the bound, new ones are refused, 503 with Retry-After.
        var refusal: HTTPReply?
        for _ in 0..<30 {
            let reply = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.echo","delayMs":600000,"payload":{"pad":"\#(pad)"}}"#)
            if reply.status != 201 {
                refusal = reply
                break
            }
        }
        let refused = try #require(refusal)
        #expect(refused.status == 503)
        #expect(refused.json?["error"]?["code"] == .string("queueFull"))
        #expect(refused.header("Retry-After") == "1")
        #expect(try await server.get("/healthz", headers: [:]).status == 200)
        _ = try await server.terminate(timeout: .seconds(5))
    }

    @Test func aStalledStreamReaderIsToldItFellBehindAndClosed() async throws {
        let server = try await ServeProcess.start(ServeTests.thread + ["--stream-buffer-kb", "16", "--rate-limit", "0"])
        let stalled = try RawSocket(port: server.port, receiveBuffer: 4_096)
        stalled.send("GET /v1/stream HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(server.token)\r\n\r\n")
        try await Task.sleep(for: .milliseconds(300))
        let batch =
            "["
            + Array(repeating: #"{"kind":"debug.echo","payload":{"pad":"0123456789012345678901234567890123456789"}}"#, count: 100).joined(
                separator: ",") + "]"
        for _ in 0..<30 { _ = try await server.send("POST", "/v1/jobs", json: batch) }
        let rss = try #require(processStatus(server.pid, "VmRSS"))
        let received = try await stalled.readAll(timeout: .seconds(10))
        let text = String(decoding: received, as: UTF8.self)
        #expect(text.contains("event: overflow"), "\(text.suffix(300))")
        #expect(stalled.isClosedByPeer || text.hasSuffix("0\r\n\r\n"))
        // What the reader missed was dropped, not kept: the server did not grow by 3,000 events per reader.
        #expect(rss < 200_000, "VmRSS \(rss) kB")
        // A new stream works.
        let (_, events) = try await HTTPClient.events(port: server.port, "/v1/stream", headers: server.authorization, timeout: .seconds(5)) {
            events in
            events.contains { $0.event == "overview" }
        }
        #expect(events.contains { $0.event == "overview" })
        _ = try await server.terminate(timeout: .seconds(5))
    }

    @Test func idleAndSlowConnectionsCannotTakeTheServiceOffTheAir() async throws {
        let server = try await ServeProcess.start(
            ServeTests.thread + [
                "--header-timeout-ms", "500", "--idle-timeout-ms", "700", "--max-connections", "64", "--max-connections-per-client", "32"
            ])
        // Three hundred idle sockets from one address: the oldest idle ones make room.
        let idle = try (0..<300).map { _ in try RawSocket(port: server.port) }
        for _ in 0..<5 {
            let start = ContinuousClock.now
            #expect(try await server.get("/healthz", headers: [:]).status == 200)
            // Answered, not held off the air (a loaded machine's scheduling aside).
            #expect(ContinuousClock.now - start < .seconds(2))
        }
        #expect(openDescriptors(server.pid) < 64 + 60, "\(openDescriptors(server.pid)) descriptors open")
        // Half a request's head: closed at the header timeout.
        let slow = try RawSocket(port: server.port)
        slow.send("GET /healthz HTTP/1.1\r\nHost: te")
        let start = ContinuousClock.now
        _ = try await slow.readAll(timeout: .seconds(5))
        #expect(slow.isClosedByPeer)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(300) && waited < .seconds(3), "closed after \(waited)")
        // A keep-alive connection is closed once idle past its timeout.
        let keptAlive = try RawSocket(port: server.port)
        keptAlive.send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        let answer = try await keptAlive.readAll(timeout: .seconds(3))
        #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(keptAlive.isClosedByPeer)
        #expect(idle.filter(\.isClosedByPeer).count >= 250)
        _ = try await server.terminate(timeout: .seconds(5))
    }

    @Test func cardsAreDrawnWhileLongJobsHoldEveryWorkerAndJobsMayNotAskForLongTimeouts() async throws {
        let server = try await ServeProcess.start(["--workers", "1", "--max-timeout-ms", "120000"])
        let long = #"{"kind":"debug.sleep","timeoutMs":100000,"payload":{"ms":60000}}"#
        let (_, ids) = try await serve.submit(server, "[\(long),\(long)]")
        #expect(ids.count == 2)
        try await serve.eventually("the long job runs") { try await server.get("/v1/jobs/\(ids[0])").json?["state"] == .string("running") }
        let start = ContinuousClock.now
        let card = try await server.get("/og.png?title=Not+behind+long+jobs", headers: [:])
        #expect(card.status == 200, "\(card.text.prefix(300))")
        #expect(ContinuousClock.now - start < .seconds(15))
        let tooLong = try await server.send("POST", "/v1/jobs", json: #"{"kind":"debug.sleep","timeoutMs":7200000,"payload":{"ms":1}}"#)
        #expect(tooLong.status == 400)
        #expect(tooLong.json?["error"]?["field"] == .string("timeoutMs"))
        _ = try await server.terminate(timeout: .seconds(20))
    }

    @Test func aNulInAPayloadRoundTrips() async throws {
        let server = try await ServeProcess.start(ServeTests.thread)
        let reply = try await server.send("POST", "/v1/jobs?wait=5000", json: #"{"kind":"debug.echo","payload":{"name":"a\u0000b"}}"#)
        #expect(reply.json?["jobs"]?[0]?["result"]?["name"] == .string("a\u{0}b"), "\(reply.text)")
        #expect(try await server.terminate().status == 0)
    }
}
