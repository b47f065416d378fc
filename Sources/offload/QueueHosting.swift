import Logging
import Offload
import OffloadPostgres
import ServiceLifecycle

/// A durable queue and the servers that feed this host's pools from it: what `offload worker`
/// and `offload serve --queue` both run, assembled here alone.
struct QueueHosting {
    /// A pool this host serves the queue with, and the kinds it takes from it (`nil`: every kind
    /// of its registry).
    struct Served {
        var pool: WorkerPool
        var kinds: [String]?
    }

    let queue: PostgresQueue
    let served: [Served]
    let servers: [QueueServer]

    /// - Parameters:
    ///   - artifactFolder: where the pools' kinds write their files, stored in the queue from there.
    ///   - removesStoredFiles: whether a file stored in the queue leaves the folder (a scratch folder).
    ///   - followsEnds: whether this host waits for jobs to end (a service does; a worker does not).
    init(
        url: String, schema: String?, leaseDuration: Duration = .seconds(30), served: [Served], claimAhead: Int? = nil,
        drainTimeout: Duration, artifactFolder: String, removesStoredFiles: Bool, followsEnds: Bool, logger: Logger
    ) throws {
        var configuration = PostgresQueueConfiguration(leaseDuration: leaseDuration)
        configuration.followsEnds = followsEnds
        if let schema { configuration.schema = schema }
        let queue: PostgresQueue
        do { queue = try PostgresQueue(url: url, configuration: configuration, logger: logger) } catch {
            throw fail("offload: \(error.message).")
        }
        self.queue = queue
        self.served = served
        servers = served.map { served in
            var server = QueueServer.Configuration(prefetch: claimAhead, heartbeat: leaseDuration / 3, drainTimeout: drainTimeout, logger: logger)
            server.kinds = served.kinds
            // Pictures and data files go into the queue, where every host can serve them.
            server.artifactFolder = artifactFolder
            server.removesStoredFiles = removesStoredFiles
            return QueueServer(queue: queue, pool: served.pool, configuration: server)
        }
    }

    /// The services to run, in order: the queue, the pools, the servers (a service group stops
    /// them in reverse: servers first, so that they hand back what they hold before the pools drain).
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        [.init(service: queue)] + served.map { .init(service: $0.pool) } + servers.map { .init(service: $0) }
    }
}
