// swift-format-ignore-file
// (The docs show these lines as they are written here.)
import Hummingbird
import Logging
import Offload
import OffloadImage
import OffloadServer
import ServiceLifecycle
import UnixSignals

// The service's example (it listens until SIGTERM, so `runAll` does not run it;
// Tests/OffloadServerTests runs `offload serve`, which is this with the CLI's options).
extension DocumentationExamples {
    static func serveOverHTTP(logger: Logger) async throws {
        let outputs = "/var/lib/blog/offload"
        var registry = HandlerRegistry()
        try registry.registerImage(outputDirectory: outputs)
        let pool = try WorkerPool(configuration: PoolConfiguration(isolation: .process), registry: registry)
        let store = JobStore(backend: try MemoryBackend(pool: pool, outputFolder: outputs), pool: pool)
        let service = OffloadService(store: store, configuration: ServiceConfiguration(port: 8080, token: "s3cret"), registry: pool.registry)
        let application = service.application(logger: logger)
        let group = ServiceGroup(services: [pool, store, application], gracefulShutdownSignals: [.sigterm], logger: logger)
        try await group.run()
    }
}

// Mounting the service in a program's own router, and signing its cards (doc comments and README).
extension DocumentationExamples {
    static func mount(service: OffloadService) {
        let router = Router()
        router.get("/posts/{slug}") { request, context in "A post" }
        service.addRoutes([.dashboard, .jobs, .metrics], to: router.group("admin"))
        service.addRoutes([.cards, .health], to: router)
    }

    static func cardRoute(router: Router<BasicRequestContext>, offload: OffloadService, posts: [String: Post]) {
        router.get("/posts/{slug}/card.png") { request, context in
            guard let post = posts[try context.parameters.require("slug")] else { throw HTTPError(.notFound) }
            return try await offload.cardResponse(["title": post.title, "template": "midnight"], for: request, context: context)
        }
    }

    static func signCards() throws {
        let signer = try CardSigner(hexKeys: ["943b421c…"], hexSalt: "520f986b…")
        let path = signer.sign(["title": "Hello", "template": "midnight"])   // "/og.png?template=midnight&title=Hello&sig=…"
        _ = path
    }

    static func signCards(key: String, salt: String, post: Post, store: JobStore, pool: WorkerPool) throws -> OffloadService {
        let signer = try CardSigner(hexKeys: [key], hexSalt: salt)
        let path = signer.sign(["title": post.title, "template": "midnight"])   // in the page's og:image
        let service = OffloadService(store: store, configuration: ServiceConfiguration(cardSigner: signer), registry: pool.registry)
        _ = path
        return service
    }

    /// What a blog's post is, for the examples above.
    struct Post {
        var title: String
    }
}
