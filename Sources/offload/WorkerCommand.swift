import ArgumentParser
import Logging
import Offload
import OffloadPostgres
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Serve a PostgreSQL queue with a pool of workers until SIGTERM.",
        discussion: """
            Claims as many jobs as it has free workers plus --claim-ahead, renews their leases while they run, and records each end.
            SIGTERM or SIGINT: stops claiming, hands back the jobs it had not started, lets running ones finish for --drain-ms,
            and exits 0. Files jobs write (pictures, data files) go to OUT/files and into the queue as artifacts
            (`offload artifacts get`), so any host can serve them.
            """
    )

    @OptionGroup var queueOptions: QueueOptions
    @OptionGroup var poolOptions: PoolOptions
    @OptionGroup var scheduleOptions: ScheduleOptions

    @Option(name: .long, parsing: .upToNextOption, help: "Only these kinds (default: every kind offload runs).")
    var kinds: [String] = []

    @Option(name: .long, help: "Jobs claimed beyond the free workers, held ready to start (default: one per worker).")
    var claimAhead: Int?

    @Option(name: .long, help: "How long a graceful stop lets running jobs finish, in milliseconds.")
    var drainMs: Int = 30_000

    @Option(name: .long, help: "How long a claim holds without a heartbeat, in milliseconds (heartbeats come every third of it).")
    var leaseMs: Int = 30_000

    @Option(name: .long, help: "The folder for job outputs.")
    var out: String = "./out"

    @Flag(
        name: .long,
        help:
            "Serve the diagnostic kinds too (debug.sleep, debug.hang, debug.alloc, debug.crash…): for load and fault tests, not for a queue others write to."
    )
    var diagnostics = false

    func validate() throws {
        if let claimAhead, claimAhead < 0 { throw ValidationError("--claim-ahead must be zero or more") }
        if drainMs < 0 { throw ValidationError("--drain-ms must be zero or more") }
        if leaseMs < 1_000 { throw ValidationError("--lease-ms must be at least 1000") }
    }

    func run() async throws {
        let output: OutputFolder
        do { output = try OutputFolder(path: out) } catch {
            throw fail("offload: cannot write job outputs to '\(out)': \(error.reason).")
        }
        let pool: WorkerPool
        do { pool = try poolOptions.makePool(files: output.files, roots: ["."], diagnostics: diagnostics) } catch let error as OffloadError {
            throw fail("offload: \(error.message).")
        }
        let unknown = kinds.filter { !pool.registry.contains($0) }
        if !unknown.isEmpty {
            throw fail("offload: unknown kinds \(unknown.joined(separator: ", ")) (known: \(pool.registry.kinds.joined(separator: ", "))).")
        }
        try await scheduleOptions.install(
            try scheduleOptions.read(kinds: Set(pool.registry.kinds)), url: queueOptions.url ?? "", schema: queueOptions.schema)
        var logger = Logger(label: "offload.worker")
        logger.logLevel = poolOptions.verbose ? .info : .warning
        let hosting = try QueueHosting(
            url: queueOptions.url ?? "", schema: queueOptions.schema, leaseDuration: .milliseconds(leaseMs),
            served: [.init(pool: pool, kinds: kinds.isEmpty ? nil : kinds)], claimAhead: claimAhead,
            drainTimeout: .milliseconds(drainMs), artifactFolder: output.files, removesStoredFiles: false, followsEnds: false,
            logger: logger)
        let host = hosting.servers[0].configuration.host
        let served = kinds.isEmpty ? pool.registry.kinds : kinds
        say(
            "offload worker \(host): serving \(served.count) kinds from \(queueOptions.place) with up to \(pool.configuration.scaling.maxWorkers) workers; SIGTERM stops it."
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: hosting.services, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        say("offload worker \(host): stopped.")
    }
}
