import Foundation
import Logging
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

    static func start() throws -> TestDatabase {
        let folder = NSTemporaryDirectory() + "offload-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let url = try run("start", folder).trimmingCharacters(in: .whitespacesAndNewlines)
        return TestDatabase(folder: folder, url: url)
    }

    /// Stops the server (fast: connections are dropped) and starts it again on the same port.
    func restart() async throws { _ = try Self.run("restart", folder) }

    func stop() { _ = try? Self.run("stop", folder) }

    @discardableResult
    private static func run(_ command: String, _ folder: String) throws -> String {
        let child = try ChildProcess.spawn(
            executable: "/bin/bash", arguments: [script, command, folder],
            environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], directory: nil)
        close(child.toChild)
        close(child.fromChild)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = read(child.output, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output += chunk[0..<count]
        }
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
        let database = try TestDatabase.start()
        defer { database.stop() }
        try await TestDatabase.$current.withValue(database) { try await function() }
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
    var configuration = PostgresQueueConfiguration(schema: schema, statementTimeout: .seconds(15))
    configure(&configuration)
    var logger = Logger(label: "offload.postgres.test")
    logger.logLevel = .error
    let queue = try PostgresQueue(url: try database.url, configuration: configuration, logger: logger)
    let running = Task { try await queue.run() }
    defer { running.cancel() }
    let result = try await body(queue)
    running.cancel()
    _ = await running.result
    return result
}

func echo(_ n: Int, priority: Priority = .normal, delay: Duration? = nil) -> Job {
    Job(kind: "debug.echo", payload: .json(["n": .int(Int64(n))]), priority: priority, delay: delay)
}
