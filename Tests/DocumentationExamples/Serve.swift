// swift-format-ignore-file
// (The docs show these lines as they are written here.)
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
