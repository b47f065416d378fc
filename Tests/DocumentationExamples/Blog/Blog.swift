// swift-format-ignore-file
// (The README and the DocC catalog show this program as it is written here.)
import Foundation
import Hummingbird
import Logging
import Offload
import OffloadImage
import OffloadServer
import ServiceLifecycle
import UnixSignals

/// A kind of the blog's own: counts a post's words, in a worker process.
struct WordCount: JobHandler {
    static let kind = "blog.wordCount"
    struct Payload: Codable, Sendable { var text: String }
    struct Output: Codable, Sendable { var words: Int }

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        Output(words: payload.text.split(whereSeparator: \.isWhitespace).count)
    }
}

/// A post: a file `posts/<slug>.txt`, its first line the title.
struct Post: Sendable {
    var title: String
    var body: String

    static func load(from folder: String) throws -> [String: Post] {
        var posts: [String: Post] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".txt") {
            let lines = try String(contentsOfFile: folder + "/" + name, encoding: .utf8).split(separator: "\n", maxSplits: 1)
            posts[String(name.dropLast(4))] = Post(title: String(lines.first ?? ""), body: String(lines.dropFirst().first ?? ""))
        }
        return posts
    }
}

@main struct Blog {
    static func main() async throws {
        var registry = HandlerRegistry()
        try registry.registerImage(outputDirectory: "offload/images")
        try registry.register(WordCount())
        // Started again as a worker process: runs jobs, never returns.
        WorkerProcess.runIfWorker(registry: registry)

        let environment = ProcessInfo.processInfo.environment
        let logger = Logger(label: "blog")
        let posts = try Post.load(from: "posts")
        let pool = try WorkerPool(configuration: PoolConfiguration(isolation: .process), registry: registry)
        let store = JobStore(backend: try MemoryBackend(pool: pool, outputFolder: "offload/store"), pool: pool)
        let offload = OffloadService(store: store, configuration: ServiceConfiguration(token: environment["ADMIN_TOKEN"]), registry: registry)

        let router = Router(options: .autoGenerateHeadEndpoints)
        router.get("/posts/{slug}") { request, context -> Response in
            let slug = try context.parameters.require("slug")
            guard let post = posts[slug] else { throw HTTPError(.notFound) }
            let words = try await pool.submit(WordCount.self, .init(text: post.body)).value.words
            let page = """
                <!doctype html><html><head><title>\(post.title.htmlEscaped)</title>
                <meta property="og:image" content="/posts/\(slug.htmlEscaped)/card.png"></head>
                <body><h1>\(post.title.htmlEscaped)</h1><p>\(post.body.htmlEscaped)</p><p>\(words) words</p></body></html>
                """
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/posts/{slug}/card.png") { request, context in
            guard let post = posts[try context.parameters.require("slug")] else { throw HTTPError(.notFound) }
            return try await offload.cardResponse(["title": post.title, "template": "midnight"], for: request, context: context)
        }
        // The dashboard, the jobs API and the metrics under /admin, behind ADMIN_TOKEN; health at the root.
        offload.addRoutes([.dashboard, .jobs, .metrics], to: router.group("admin"))
        offload.addRoutes(.health, to: router)

        let port = Int(environment["PORT"] ?? "") ?? 8080
        let application = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in logger.info("blog: listening on port \(channel.localAddress?.port ?? port)") },
            logger: logger)
        // SIGTERM stops the services in reverse order: the server answers every request it took,
        // then the store and the pool stop.
        let group = ServiceGroup(services: [pool, store, application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

extension String {
    /// The text with `&`, `<`, `>` and `"` written as HTML entities.
    var htmlEscaped: String {
        var escaped = ""
        for character in self {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
