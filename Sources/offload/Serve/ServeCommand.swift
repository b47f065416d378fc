import ArgumentParser
import Foundation
import Logging
import Metrics
import Offload
import OffloadServer
import Prometheus
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the jobs API, Open Graph cards, metrics and a live dashboard over HTTP until SIGTERM.",
        discussion: """
            Routes: / (dashboard), GET /og.png|.jpg|.webp?title=… (cards, cached), POST/GET /v1/jobs, GET|DELETE /v1/jobs/{id},
            POST /v1/jobs/{id}/retry, GET /v1/jobs/{id}/events (server-sent events), GET /v1/artifacts/{sha256},
            GET /v1/overview, GET /v1/stream, GET /metrics (Prometheus), GET /healthz, GET /readyz, GET /openapi.json.
            Writes need Authorization: Bearer TOKEN (--token or $OFFLOAD_TOKEN; without either, a random token is made and
            printed); reads need it too unless --public-reads. Cards, health and the OpenAPI document are public.
            Without --queue the jobs live in this process; with a PostgreSQL URL they go to the durable queue, which this
            host also serves with its workers. SIGTERM or SIGINT: stops taking requests, drains, exits 0.
            """
    )

    @Option(name: .long, help: "The address to listen on (default loopback only; 0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "The port; 0 for a free one (the line 'listening on' says which).")
    var port = 8080

    @Option(name: .long, help: ArgumentHelp("A PostgreSQL queue to submit to and serve from (default: jobs in memory).", valueName: "url"))
    var queue: String?

    @Option(name: .long, help: "The schema of the queue's tables (default: the URL's ?schema=, else offload).")
    var schema: String?

    @Option(name: .long, help: "The bearer token writes need (default: $OFFLOAD_TOKEN, else a random one, printed).")
    var token: String?

    @Flag(name: .long, help: "Let anyone read jobs, events, artifacts and metrics without the token.")
    var publicReads = false

    @Option(name: .long, help: "The largest request body, in bytes.")
    var maxBodyBytes = 4 << 20

    @Option(name: .long, help: "Writes (submit, cancel, retry) a client may make a minute; 0 for no limit.")
    var rateLimit = 600

    @Option(name: .long, help: "Cards a client may have drawn (not served from the cache) a minute; 0 for no limit.")
    var renderRateLimit = 600

    @Option(name: .long, help: "Cards drawn at once across every client; a new card beyond it gets 503 with Retry-After.")
    var maxConcurrentRenders = 64

    @Option(name: .long, help: "The MiB of cards the cache keeps.")
    var cardCacheMb = 64

    @Option(name: .long, help: "The MiB of job files (pictures, data files) kept for GET /v1/artifacts without a queue.")
    var artifactsMb = 256

    @Option(name: .long, help: "The one origin browsers may call the API from (CORS; default off).")
    var corsOrigin: String?

    @Flag(name: .long, help: "Count requests against the last X-Forwarded-For address (behind a reverse proxy that sets it).")
    var trustForwardedFor = false

    @Option(name: .long, help: "How long SIGTERM lets running jobs finish, in milliseconds (then they are cancelled).")
    var drainMs = 10_000

    @OptionGroup var poolOptions: PoolOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        if maxBodyBytes < 1_024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if rateLimit < 0 || renderRateLimit < 0 { throw ValidationError("--rate-limit and --render-rate-limit must be zero or more") }
        if cardCacheMb < 0 || artifactsMb < 1 { throw ValidationError("--card-cache-mb must be zero or more and --artifacts-mb at least 1") }
        if maxConcurrentRenders < 1 { throw ValidationError("--max-concurrent-renders must be at least 1") }
        if drainMs < 0 { throw ValidationError("--drain-ms must be zero or more") }
        if let token, token.utf8.count < 8 { throw ValidationError("--token must be at least 8 characters") }
    }

    func run() async throws {
        // Metrics first: the pool's counters and gauges are made with the factory bootstrapped now.
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (Self.prometheusName(name), labels.map { (Self.prometheusName($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)

        var logger = Logger(label: "offload.serve")
        logger.logLevel = poolOptions.verbose ? .info : .warning
        let outputs: String
        do { outputs = try PrivateFolder.temporary("serve-\(getpid())") } catch { throw fail("offload: \(error.message).") }
        defer { try? FileManager.default.removeItem(atPath: outputs) }
        let pool: WorkerPool
        do { pool = try poolOptions.makePool(files: outputs, roots: [], drainTimeout: .milliseconds(drainMs)) } catch let error as OffloadError {
            throw fail("offload: \(error.message).")
        }
        let token = token ?? ProcessInfo.processInfo.environment["OFFLOAD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let chosenToken = token ?? Self.randomToken()
        let configuration = ServiceConfiguration(
            host: host, port: port, token: chosenToken, publicReads: publicReads, maxBodyBytes: maxBodyBytes,
            writesPerMinute: rateLimit, rendersPerMinute: renderRateLimit, cardCacheBytes: cardCacheMb << 20,
            maxConcurrentRenders: maxConcurrentRenders,
            corsOrigin: corsOrigin, trustsForwardedFor: trustForwardedFor)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let store: any JobStore
        if let queue {
            let hosted = try QueueHosting(url: queue, schema: schema, pool: pool, outputs: outputs, drainTimeout: .milliseconds(drainMs), logger: logger)
            store = hosted.store
            services = hosted.services
        } else {
            let memory: PoolJobStore
            do { memory = try PoolJobStore(pool: pool, outputFolder: outputs, maxArtifactBytes: artifactsMb << 20) } catch {
                throw fail("offload: \(error.message).")
            }
            store = memory
            services = [.init(service: pool), .init(service: memory)]
        }
        let service = OffloadService(store: store, configuration: configuration, registry: pool.registry, metrics: registry)
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let application = service.application(logger: logger) { port in
            let tokenNote = token == nil ? " (token: \(chosenToken))" : ""
            say("offload serve: listening on http://\(shownHost):\(port) with \(pool.configuration.scaling.maxWorkers) workers, jobs \(store.mode == "memory" ? "in memory" : "in the queue")\(tokenNote)")
            if token == nil { say("offload serve: dashboard at http://\(shownHost):\(port)/#token=\(chosenToken)") }
        }
        services.append(.init(service: application))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        say("offload serve: stopped.")
    }

    /// `offload.jobs.duration` → `offload_jobs_duration`: Prometheus names are letters, digits and `_`.
    static func prometheusName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" ? $0 : "_" })
    }

    /// 32 random hex digits.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A line on standard output, written at once (a supervisor reading a pipe sees it).
func say(_ line: String) {
    FileSink.standardOutput.write(Array((line + "\n").utf8))
    FileSink.standardOutput.flush()
}
