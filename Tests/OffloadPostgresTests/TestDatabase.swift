import Foundation
import Logging
import OffloadTestSupport
@testable import Offload
import OffloadPostgres
import Testing

/// A real PostgreSQL server, started for the suite by `scripts/postgres-server` (in a temporary
/// folder, on a free port) and stopped after it. Each test works in a schema of its own.
final class TestDatabase: Sendable {
    @TaskLocal static var current: TestDatabase?

    let folder: String
    let url: String

    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/postgres-server").path

    private init(folder: String, url: String) {
        self.folder = folder
        self.url = url
    }

    static func start() async throws -> TestDatabase {
        let folder = NSTemporaryDirectory() + "offload-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let url = try await run("start", folder).trimmingCharacters(in: .whitespacesAndNewlines)
        return TestDatabase(folder: folder, url: url)
    }

    /// Runs `body` with a server of its own (for a test that stops or restarts it), stopped after.
    static func withOwn<T>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let own = try await start()
        do {
            let result = try await body(own)
            await own.stop()
            return result
        } catch {
            await own.stop()
            throw error
        }
    }

    /// Stops the server (fast: connections are dropped) and starts it again on the same port.
    func restart() async throws { _ = try await Self.run("restart", folder) }

    func stop() async { _ = try? await Self.run("stop", folder) }

    /// Runs the script, waiting by sleeping: `initdb` can take many seconds on a loaded machine,
    /// and a thread of the cooperative pool blocked that long (two cores, two threads) stalls
    /// every other test of the process.
    @discardableResult
    private static func run(_ command: String, _ folder: String) async throws -> String {
        let child = try ChildProcess.spawn(
            executable: "/bin/bash", arguments: [script, command, folder],
            environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], directory: nil)
        close(child.toChild)
        close(child.fromChild)
        let output = try await readOutput(of: child, killAfter: .seconds(300))
        close(child.output)
        let status = child.waitForExit()
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0 else {
            throw OffloadError(.invalidConfiguration, "postgres-server \(command) failed (wait status \(status)): \(text)")
        }
        return text
    }

    /// A new schema name, so that tests running together do not see each other's jobs.
    static func schema() -> String { "t\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)" }
}

/// Starts a server before the suite and stops it after.
struct PostgresServerTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await TestDatabase.withOwn { database in
            try await TestDatabase.$current.withValue(database) { try await function() }
        }
    }
}

extension Trait where Self == PostgresServerTrait {
    static var postgresServer: Self { PostgresServerTrait() }
}

/// The suite's server.
var database: TestDatabase {
    get throws {
        guard let current = TestDatabase.current else { throw OffloadError(.invalidConfiguration, "no test database: run inside PostgresTests") }
        return current
    }
}

/// Runs `body` with a running queue in a schema of its own (or `schema`).
func withQueue<T: Sendable>(
    schema: String = TestDatabase.schema(), configure: (inout PostgresQueueConfiguration) -> Void = { _ in },
    _ body: (PostgresQueue) async throws -> T
) async throws -> T {
    var configuration = PostgresQueueConfiguration(schema: schema, statementTimeout: .seconds(30))
    configure(&configuration)
    var logger = Logger(label: "offload.postgres.test")
    logger.logLevel = .error
    let queue = try PostgresQueue(url: try database.url, configuration: configuration, logger: logger)
    let running = Task { try await queue.run() }
    defer { running.cancel() }
    if configuration.migratesOnStart {
        await MigrationGate.shared.enter()
        do { _ = try await queue.migrate() } catch {
            await MigrationGate.shared.leave()
            throw error
        }
        await MigrationGate.shared.leave()
    }
    let result = try await body(queue)
    running.cancel()
    _ = await running.result
    return result
}

func echo(_ n: Int, priority: Priority = .normal, delay: Duration? = nil) -> Job {
    Job(kind: "debug.echo", payload: .json(["n": .int(Int64(n))]), priority: priority, delay: delay)
}

/// Lets two schemas migrate at a time. Dozens of tests start together, each in a schema of its
/// own: migrated all at once, each migration's transaction (a hundred statements of DDL) shares
/// two loaded cores with all the others and the last ones pass the statement timeout; waiting
/// here, each runs in a fraction of a second once its turn comes.
actor MigrationGate {
    static let shared = MigrationGate(permits: 2)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { free = permits }

    func enter() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
