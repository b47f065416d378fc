#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import OffloadTestSupport
import Testing
@testable import Offload

/// The README's whole program — a blog on Hummingbird with Offload mounted in its own router —
/// run as its user runs it: post pages, their cards through the blog's own route, the dashboard
/// and the jobs API under /admin behind the token, the metrics, and SIGTERM in the middle of a
/// load of cards being drawn.
@Suite(.serialized) struct EmbeddedBlogTests {
    static let token = "blog-admin-token"
    static let posts = 40

    func startBlog(in folder: String) async throws -> ServeProcess {
        try FileManager.default.createDirectory(atPath: folder + "/posts", withIntermediateDirectories: true)
        writeFile(folder + "/posts/hello.txt", "Hello, <Offload>\nCards are drawn in worker processes, never on the event loop.\n")
        for index in 0..<Self.posts { writeFile(folder + "/posts/post-\(index).txt", "Post number \(index)\nWords of post \(index).\n") }
        return try await ServeProcess.launch(
            builtExecutable("offload-example-blog"), [], token: Self.token, directory: folder,
            environment: ["PORT=0", "ADMIN_TOKEN=\(Self.token)"], portAfter: "blog: listening on port ")
    }

    @Test func theBlogServesItsPagesItsCardsAndOffloadUnderAdmin() async throws {
        let folder = temporaryFolder("blog")
        defer { removeTree(folder) }
        let blog = try await startBlog(in: folder)

        let page = try await blog.get("/posts/hello", headers: [:])
        #expect(page.status == 200)
        #expect(page.text.contains("<title>Hello, &lt;Offload&gt;</title>"), "\(page.text)")
        #expect(page.text.contains(#"<meta property="og:image" content="/posts/hello/card.png">"#))
        #expect(page.text.contains("<p>11 words</p>"), "the word count ran in a worker process: \(page.text)")
        #expect(try await blog.get("/posts/nowhere", headers: [:]).status == 404)

        // The card, through the blog's own route: drawn once, then from the cache, with its ETag.
        let card = try await blog.get("/posts/hello/card.png", headers: [:])
        #expect(card.status == 200, "\(card.text.prefix(300))")
        #expect(card.header("Content-Type") == "image/png")
        #expect(card.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(card.header("X-Cache") == "miss")
        let again = try await blog.get("/posts/hello/card.png", headers: [:])
        #expect(again.header("X-Cache") == "hit")
        #expect(again.body == card.body)
        #expect(try await blog.get("/posts/hello/card.png", headers: ["If-None-Match": try #require(card.header("ETag"))]).status == 304)
        let head = try await HTTPClient.request("HEAD", port: blog.port, "/posts/hello/card.png")
        #expect(head.status == 200 && head.body.isEmpty)
        // Drawn in memory: no file anywhere under the blog's folder.
        let files = FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String } ?? []
        #expect(!files.contains { $0.hasSuffix(".png") }, "\(files)")

        // The dashboard under /admin: the page at /admin/, its files and API beside it.
        let bare = try await blog.get("/admin", headers: [:])
        #expect(bare.status == 308)
        #expect(bare.header("Location") == "/admin/")
        let dashboard = try await blog.get("/admin/", headers: [:])
        #expect(dashboard.status == 200)
        #expect(dashboard.text.contains(#"<script src="app.js""#))
        #expect(dashboard.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
        #expect(try await blog.get("/admin/app.js", headers: [:]).status == 200)
        #expect(try await blog.get("/admin/v1/auth", headers: [:]).json?["tokenRequired"] == true)

        // The jobs API behind the token: the jobs the blog submitted itself are there; the cards are not.
        let refused = try await blog.get("/admin/v1/jobs", headers: [:])
        #expect(refused.status == 401)
        #expect(refused.json?["error"]?["code"] == "unauthorized")
        #expect(
            try await blog.send("POST", "/admin/v1/jobs", json: #"{"kind":"blog.wordCount","payload":{"text":"a b"}}"#, headers: [:]).status == 401)
        // The store records a job the blog submitted to its pool as the pool's events reach it.
        var jobs: [JSONValue] = []
        for _ in 0..<100 {
            jobs = try await blog.get("/admin/v1/jobs").json?["jobs"]?.arrayValue ?? []
            if jobs.first?["result"] != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(jobs.count == 1, "\(jobs.map(JSONWriter.string))")
        #expect(jobs.first?["kind"] == "blog.wordCount")
        #expect(jobs.first?["result"] == ["words": 11])
        let submitted = try await blog.send(
            "POST", "/admin/v1/jobs?wait=10000", json: #"{"kind":"blog.wordCount","payload":{"text":"one two three"}}"#)
        #expect(submitted.status == 201, "\(submitted.text)")
        #expect(submitted.json?["jobs"]?[0]?["result"] == ["words": 3])
        #expect(try await blog.get("/admin/v1/overview").json?["kinds"] == ["blog.wordCount", "image"])
        #expect(try await blog.send("PUT", "/admin/v1/jobs").status == 405)

        // Health at the root; metrics under /admin, every family by the conventions.
        #expect(try await blog.get("/healthz", headers: [:]).status == 200)
        #expect(try await blog.get("/admin/metrics", headers: [:]).status == 401)
        let metrics = try await blog.get("/admin/metrics").text
        #expect(metrics.contains(#"offload_jobs_ended_total{pool="default",kind="blog.wordCount",status="completed"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"offload_jobs_ended_total{pool="default",kind="image",status="completed"} 1"#))
        #expect(metrics.contains(#"offload_http_requests_total{method="GET",route="/admin/v1/jobs",status="200"} 1"#))
        #expect(metrics.contains(#"offload_workers{pool="default"} "#))
        let problems = try await promtoolProblems(metrics)
        #expect(problems.isEmpty, "\(problems)")

        #expect(try await blog.terminate().status == 0)
    }

    /// SIGTERM while 40 cards are being drawn: every request the blog took is answered in full,
    /// then it exits 0.
    @Test func sigtermMidLoadAnswersEveryRequestItTook() async throws {
        let folder = temporaryFolder("blog-term")
        defer { removeTree(folder) }
        let blog = try await startBlog(in: folder)
        let answered = Count()
        let replies = Task {
            try await withThrowingTaskGroup(of: (Int, HTTPReply?).self) { group in
                for index in 0..<Self.posts {
                    group.addTask {
                        let reply = try? await HTTPClient.request("GET", port: blog.port, "/posts/post-\(index)/card.png", timeout: .seconds(60))
                        answered.value.withLock { $0 += 1 }
                        return (index, reply)
                    }
                }
                return try await group.reduce(into: [Int: HTTPReply?]()) { $0[$1.0] = $1.1 }
            }
        }
        // Some cards drawn, most still being drawn or waiting for a worker: SIGTERM now.
        let deadline = ContinuousClock.now + .seconds(60)
        while answered.value.withLock({ $0 }) < 3 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let answeredBefore = answered.value.withLock { $0 }
        kill(blog.pid, SIGTERM)
        let results = try await replies.value
        let exit = try await blog.waitForExit(timeout: .seconds(60))
        #expect(answeredBefore < Self.posts - 10, "the load was over before SIGTERM (\(answeredBefore) answered)")
        let unanswered = results.filter { $0.value == nil }.map(\.key).sorted()
        #expect(unanswered.isEmpty, "no answer for \(unanswered.count) of \(Self.posts) cards: \(unanswered)")
        let failed = results.compactMap { index, reply in
            reply.flatMap { $0.status == 200 && $0.body.starts(with: [0x89, 0x50]) ? nil : "\(index): \($0.status)" }
        }
        #expect(failed.isEmpty, "\(failed)")
        #expect(exit.status == 0, "\(exit.output.suffix(2_000))")
    }
}

/// Requests answered so far, across the tasks that send them.
private final class Count: Sendable {
    let value = Mutex(0)
}
