// swift-format-ignore-file
// (The docs show these lines as they are written here.)
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Offload
import OffloadData
import OffloadImage
import OffloadPlugins

// Every code example of the README, the DocC catalog, docs/ and the doc comments, as it is
// written there: this target compiles them, and a test checks that each example of the docs is
// found here word for word. The runnable ones run from a test (`runAll`).

enum DocumentationExamples {
    static func runAll(outputDirectory: String) async throws {
        var registry = HandlerRegistry()
        try registry.register(Resize())
        try registry.registerImage(outputDirectory: outputDirectory)
        try registry.registerData(outputDirectory: outputDirectory)
        try await withPool(registry: registry)
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(2)), registry: registry) { pool in
            try await typedSubmission(pool: pool)
            try await untypedSubmission(pool: pool)
            try await watchEvents(pool: pool)
        }
        try literals()
        try decoding()
        _ = try renderInMemory()
    }

    // MARK: - The registry and the pool

    static func registerAKind() throws {
        var registry = HandlerRegistry()
        try registry.register(Resize())
    }

    static func withPool(registry: HandlerRegistry) async throws {
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(2)), registry: registry) { pool in
            let output = try await pool.submit(Resize.self, Resize.Payload(path: "a.png", width: 600)).value
            print(output.written)
        }
    }

    static func typedSubmission(pool: WorkerPool) async throws {
        let handle = try await pool.submit(Resize.self, Resize.Payload(path: "a.png", width: 600), priority: .high)
        let output: Resize.Output = try await handle.value
        print(output.written, handle.id)
    }

    static func untypedSubmission(pool: WorkerPool) async throws {
        let job = Job(kind: "resize", payload: .json(["path": "a.png", "width": 600]), priority: .high,
                      timeout: .seconds(1), maxRetries: 2)
        let outcome = await (try await pool.submit(job)).outcome
        print(outcome.status, outcome.runTime, try outcome.value(as: Resize.Output.self).written)
    }

    static func typedJob() {
        let job = Job(Resize.self, Resize.Payload(path: "a.png", width: 600), priority: .high, timeout: .seconds(5))
        print(job.kind)
    }

    static func watchEvents(pool: WorkerPool) async throws {
        let events = pool.events()
        try await pool.submit(Resize.self, Resize.Payload(path: "b.png", width: 300))
        for await event in events {
            switch event {
            case .workerReady(let worker): print("\(worker.worker) ready, pid \(worker.pid ?? 0)")
            case .jobProgress(let job, let fraction, _): print("\(job.job): \(Int(fraction * 100)) %")
            case .jobCompleted(_, let outcome): print("\(outcome.id) done in \(outcome.runTime)")
            default: break
            }
            if event.isFinal { break }
        }
    }

    static func readJobEvent(_ event: JobEvent) {
        switch event.step {
        case .started: print("attempt \(event.attempt ?? 0) on \(event.worker?.rawValue ?? "?")")
        case .retryScheduled(let at, let error): print("\(error.code); again at \(String(describing: at))")
        case .completed: print("done")
        default: break
        }
    }

    // MARK: - Configuration

    static func configurePool() {
        var configuration = PoolConfiguration(scaling: .fixed(4), policy: .roundRobin)
        configuration.agingInterval = .seconds(2)
        print(configuration.scaling)
    }

    static func configureProcesses() {
        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(4))
        configuration.workerProcess.memoryLimit = 256 << 20
        configuration.workerProcess.heartbeatTimeout = .seconds(2)
        print(configuration.isolation)
    }

    static func configureLimits() {
        var configuration = PoolConfiguration()
        configuration.limits.maxGroups = 10_000_000
        print(configuration.limits)
    }

    static func retries() {
        let policy = RetryPolicy(initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .seconds(5), jitter: 0.2)
        print(policy)
    }

    // MARK: - Values and errors

    static func literals() throws {
        let payload: JSONValue = ["title": "Hello", "sizes": [1200, 630], "draft": false, "note": .null]
        print(payload)   // {"title":"Hello","sizes":[1200,630],"draft":false,"note":null}
    }

    static func decoding() throws {
        struct Sleep: Decodable { var ms: Int }
        let value = try JSONValueDecoder().decode(Sleep.self, from: ["ms": 10])
        print(value.ms)
    }

    static func refuse(_ ms: Double) throws {
        guard ms >= 0 else {
            throw OffloadError(.invalidPayload, "payload.ms must be a non-negative number")
        }
    }

    static func cron() throws -> Date? {
        let weekdays = try CronSchedule("0 9 * * MON-FRI")
        let next = weekdays.next(after: Date(), in: TimeZone(identifier: "Europe/Paris")!)
        return next
    }

    static func nightly(_ pool: WorkerPool) throws {
        let nightly = try Schedule(
            name: "nightly-report", cron: "0 3 * * *", timeZone: TimeZone(identifier: "Europe/Paris")!,
            job: Job(kind: "analytics", payload: .json(["file": "sales.jsonl"])))
        try pool.schedule(nightly)
    }

    static func kindLimits() -> PoolConfiguration {
        var configuration = PoolConfiguration()
        configuration.kindLimits["og-image"] = KindLimits(maxConcurrent: 2, rate: .init(jobs: 50, per: .seconds(1)))
        return configuration
    }

    /// A service a handler calls, which may answer "not yet".
    struct Upstream {
        func isReady() async throws -> Bool { true }
    }

    static func snooze(_ upstream: Upstream) async throws {
        guard try await upstream.isReady() else {
            throw OffloadError.snooze(for: .seconds(30), "upstream is not ready")
        }
        guard try await upstream.isReady() else { throw OffloadError.snooze(for: .seconds(30), "upstream not ready") }
    }

    // MARK: - Kinds

    static func registerImages() throws {
        var registry = HandlerRegistry()
        try registry.registerImage(outputDirectory: "out")
    }

    static func renderInMemory() throws -> CardImage {
        let image = try CardImage.make(CardSpec(ImagePayload(params: CanvasOgParams(title: "Hello"))))
        return image
    }

    static func runAPlugin() async throws {
        var registry = HandlerRegistry()
        try registry.registerPlugins(directory: "plugins")          // and `grants:`, `trusted:`, `limits:`
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            let payload = PluginHandler.Payload(pluginId: "title-case", operation: "transform", input: ["title": "hello"])
            let result = try await pool.submit(PluginHandler.self, payload, timeout: .seconds(2)).value
            print(result.output, result.fuelUsed ?? 0)
        }
    }

    static func grantAClock() throws {
        var registry = HandlerRegistry()
        let clock = HostImport(module: "host", name: "unix_ms", results: [.i64]) { _, _ in
            [Int64(time(nil)) * 1000]
        }
        try registry.registerPlugins(directory: "plugins", grants: [clock])
    }
}

/// A worker process's entry point, as a server has it.
struct Server {
    static func main() async throws {
        let registry = try makeRegistry()
        WorkerProcess.runIfWorker(registry: registry)   // in a worker: runs jobs, never returns
        // … the host: a pool with `PoolConfiguration(isolation: .process)` and the same registry …
    }
}

/// A scheduling policy of one's own.
struct PinImages: SchedulingPolicy {
    var name: String { "pinImages" }
    mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? {
        job.kind == "image" ? candidates.first(where: { $0.id.rawValue == "w1" })?.id : candidates.last?.id
    }
}
