// swift-format-ignore-file
// (The docs show these lines as they are written here.)
import Logging
import Offload
import OffloadPostgres
import ServiceLifecycle
import UnixSignals

// The durable queue's examples (they need a PostgreSQL server, so `runAll` does not run them;
// Tests/OffloadPostgresTests does the same against a real one).
extension DocumentationExamples {
    static func serveADurableQueue(pool: WorkerPool, logger: Logger) async throws {
        let queue = try PostgresQueue(url: "postgres://app@localhost/app")
        let server = QueueServer(queue: queue, pool: pool)
        let group = ServiceGroup(services: [queue, pool, server], gracefulShutdownSignals: [.sigterm], logger: logger)
        try await group.run()
    }
}
