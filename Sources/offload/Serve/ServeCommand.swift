import ArgumentParser
import Foundation
import Logging
import Offload
import OffloadServer
import OffloadServerPostgres
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
            printed); reads need it too unless --public-reads. Cards, health and the OpenAPI document are public; with
            --card-key and --card-salt a card is drawn or served only when its URL carries its signature (offload sign-card).
            Without --queue the jobs live in this process; with a PostgreSQL URL they go to the durable queue, which this
            host also serves with its workers. Cards are drawn by a pool of their own (--card-workers), never behind long jobs.
            SIGTERM or SIGINT: stops taking requests, drains, exits 0.
            Jobs others submit are untrusted: keep the default process isolation (a job that ignores its timeout is killed
            with its worker); thread isolation is for job writers you trust. The diagnostic kinds (debug.*) are off unless
            --diagnostics. Every store, stream and connection is bounded: --store-mb, --stream-buffer-kb, --max-connections,
            --max-connections-per-client and the timeouts below.
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

    @Flag(
        name: .long,
        help:
            "Run the diagnostic kinds too (debug.sleep, debug.hang, debug.alloc, debug.crash…): for load and fault tests, not for a service others write to."
    )
    var diagnostics = false

    @Option(
        name: .long,
        help:
            "Without --queue, the MiB of jobs kept (payloads, results, events): the oldest finished go first; past it with unfinished jobs alone, submissions get 503."
    )
    var storeMb = 256

    @Option(name: .long, help: "The longest timeoutMs a submitted job may ask for, in milliseconds.")
    var maxTimeoutMs = 3_600_000

    @Option(name: .long, help: "Worker processes that draw cards, a pool of their own (started as cards come, one kept warm).")
    var cardWorkers: Int?

    @Option(name: .long, help: "The KiB of events an event stream holds for a slow reader before it is told so and closed.")
    var streamBufferKb = 1_024

    @Option(name: .long, help: "Milliseconds a client may take to send a request's head.")
    var headerTimeoutMs = 60_000

    @Option(name: .long, help: "Milliseconds a client may pause while sending a request's body.")
    var bodyTimeoutMs = 60_000

    @Option(name: .long, help: "Milliseconds an idle keep-alive connection is kept.")
    var idleTimeoutMs = 75_000

    @Option(name: .long, help: "Milliseconds an answer waits for a client that does not read it.")
    var sendTimeoutMs = 60_000

    @Option(
        name: .long, help: "Connections open at once (default 4096, less when the open-file limit is lower); past it the one idle longest is closed.")
    var maxConnections: Int?

    @Option(name: .long, help: "Connections open at once from one address (0: no limit); past it that address's idle longest is closed.")
    var maxConnectionsPerClient = 256

    @OptionGroup var poolOptions: PoolOptions
    @OptionGroup var scheduleOptions: ScheduleOptions

    @OptionGroup(title: "Signed cards") var cardSigning: CardSigningOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        if maxBodyBytes < 1_024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if rateLimit < 0 || renderRateLimit < 0 { throw ValidationError("--rate-limit and --render-rate-limit must be zero or more") }
        if cardCacheMb < 0 || artifactsMb < 1 { throw ValidationError("--card-cache-mb must be zero or more and --artifacts-mb at least 1") }
        if maxConcurrentRenders < 1 { throw ValidationError("--max-concurrent-renders must be at least 1") }
        if drainMs < 0 { throw ValidationError("--drain-ms must be zero or more") }
        if let token, token.utf8.count < 8 { throw ValidationError("--token must be at least 8 characters") }
        _ = try cardSigning.signer()
        if let queue { try QueueOptions.validate(url: queue, schema: schema) }
        if storeMb < 1 { throw ValidationError("--store-mb must be at least 1") }
        if maxTimeoutMs < 1 { throw ValidationError("--max-timeout-ms must be at least 1") }
        if let cardWorkers, cardWorkers < 1 { throw ValidationError("--card-workers must be at least 1") }
        if streamBufferKb < 16 { throw ValidationError("--stream-buffer-kb must be at least 16") }
        for (flag, value) in [
            ("--header-timeout-ms", headerTimeoutMs), ("--body-timeout-ms", bodyTimeoutMs),
            ("--idle-timeout-ms", idleTimeoutMs), ("--send-timeout-ms", sendTimeoutMs)
        ] where value < 100 {
            throw ValidationError("\(flag) must be at least 100")
        }
        if let maxConnections, maxConnections < 16 { throw ValidationError("--max-connections must be at least 16") }
        if maxConnectionsPerClient < 0 { throw ValidationError("--max-connections-per-client must be zero or more") }
    }

    func run() async throws {
        var logger = Logger(label: "offload.serve")
        logger.logLevel = poolOptions.verbose ? .info : .warning
        let outputs: String
        do { outputs = try PrivateFolder.temporary("serve-\(getpid())") } catch { throw fail("offload: \(error.message).") }
        defer { try? FileManager.default.removeItem(atPath: outputs) }
        let pool: WorkerPool
        let cardPool: WorkerPool
        let drawers = cardWorkers ?? SystemInfoCLI.cpuCount
        do {
            pool = try poolOptions.makePool(files: outputs, roots: [], drainTimeout: .milliseconds(drainMs), diagnostics: diagnostics)
            cardPool = try poolOptions.makePool(files: outputs, roots: [], drainTimeout: .milliseconds(drainMs), diagnostics: false) {
                configuration in
                configuration.scaling = ScalingConfiguration(minWorkers: 1, maxWorkers: drawers)
                configuration.workerProfiles = [Set(["image", OffloadService.cardCapability])]
                configuration.name = "cards"
            }
        } catch let error as OffloadError {
            throw fail("offload: \(error.message).")
        }
        let fileLimit = Self.raiseOpenFileLimit()
        let token = token ?? ProcessInfo.processInfo.environment["OFFLOAD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let chosenToken = token ?? Self.randomToken()
        let configuration = ServiceConfiguration(
            host: host, port: port, token: chosenToken, publicReads: publicReads, maxBodyBytes: maxBodyBytes,
            writesPerMinute: rateLimit, rendersPerMinute: renderRateLimit, cardCacheBytes: cardCacheMb << 20,
            maxConcurrentRenders: maxConcurrentRenders,
            corsOrigin: corsOrigin, trustsForwardedFor: trustForwardedFor, maxJobTimeout: .milliseconds(maxTimeoutMs),
            streamLimits: StreamLimits(maxEvents: 1_000, maxBytes: streamBufferKb << 10),
            connections: ConnectionLimits(
                headerTimeout: .milliseconds(headerTimeoutMs), bodyTimeout: .milliseconds(bodyTimeoutMs), idleTimeout: .milliseconds(idleTimeoutMs),
                sendTimeout: .milliseconds(sendTimeoutMs),
                // Room for the workers' pipes, the database and the files jobs read.
                maxConnections: maxConnections ?? min(4_096, max(64, fileLimit - 256)),
                maxConnectionsPerClient: maxConnectionsPerClient),
            cardSigner: try cardSigning.signer())

        let schedules = try scheduleOptions.read(kinds: Set(pool.registry.kinds))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let backend: any JobBackend
        if let queue {
            try await scheduleOptions.install(schedules, url: queue, schema: schema)
            // This host's card pool takes the `image` jobs (cards among them), its main pool the others.
            let hosting = try QueueHosting(
                url: queue, schema: schema,
                served: [
                    .init(pool: pool, kinds: pool.registry.kinds.filter { $0 != "image" }), .init(pool: cardPool, kinds: ["image"])
                ], drainTimeout: .milliseconds(drainMs), artifactFolder: outputs, removesStoredFiles: true, followsEnds: true,
                logger: logger)
            backend = QueueBackend(queue: hosting.queue)
            services = hosting.services
        } else {
            do {
                backend = try MemoryBackend(
                    pool: pool, outputFolder: outputs, cardPool: cardPool, maxBytes: storeMb << 20,
                    maxArtifactBytes: artifactsMb << 20)
            } catch {
                throw fail("offload: \(error.message).")
            }
            services = [.init(service: pool), .init(service: cardPool)]
            for schedule in schedules {
                do { try pool.schedule(schedule) } catch { throw fail("offload: \(error.message).") }
            }
        }
        let store = JobStore(backend: backend, pool: pool, cardPool: cardPool, streamLimits: configuration.streamLimits)
        services.append(.init(service: store))
        let service = OffloadService(store: store, configuration: configuration, registry: pool.registry)
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let application = service.application(logger: logger) { port in
            let tokenNote = token == nil ? " (token: \(chosenToken))" : ""
            say(
                "offload serve: listening on http://\(shownHost):\(port) with \(pool.configuration.scaling.maxWorkers) workers, jobs \(store.mode == "memory" ? "in memory" : "in the queue")\(tokenNote)"
            )
            if token == nil { say("offload serve: dashboard at http://\(shownHost):\(port)/#token=\(chosenToken)") }
        }
        services.append(.init(service: application))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        say("offload serve: stopped.")
    }

    /// Raises this process's open-file limit to its hard limit (as nginx's
    /// `worker_rlimit_nofile`), so that connections are refused by the service's own limits
    /// rather than by the kernel; returns the limit now.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
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
