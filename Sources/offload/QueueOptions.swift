import ArgumentParser
import Foundation
import Logging
import Offload
import OffloadPostgres
import PostgresNIO

/// Where the durable queue is: `--queue URL` or `OFFLOAD_QUEUE_URL`.
struct QueueOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The PostgreSQL queue, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: $OFFLOAD_QUEUE_URL).",
            valueName: "url"))
    var queue: String?

    @Option(name: .long, help: "The schema of the queue's tables (default: the URL's ?schema=, else offload).")
    var schema: String?

    var url: String? { queue ?? ProcessInfo.processInfo.environment["OFFLOAD_QUEUE_URL"] }

    func validate() throws {
        guard let url else { throw ValidationError("give the queue with --queue URL or OFFLOAD_QUEUE_URL") }
        try Self.validate(url: url, schema: schema)
    }

    /// Refuses a URL that does not parse, a schema PostgreSQL owns, and a schema given twice.
    static func validate(url: String, schema: String?) throws {
        let address: QueueURL
        do { address = try QueueURL(url) } catch { throw ValidationError(error.message) }
        if let schema, let named = address.schema, named != schema {
            throw ValidationError("the URL names schema '\(named)' and --schema '\(schema)'; give it once")
        }
        do { try PostgresQueueConfiguration(schema: schema ?? address.schema ?? "offload").validate() } catch {
            throw ValidationError(error.message)
        }
    }

    /// The queue, not yet running. `migratesOnStart`: bring the schema up to date first.
    func makeQueue(migratesOnStart: Bool = true, logger: Logger = Self.quietLogger) throws -> PostgresQueue {
        var configuration = PostgresQueueConfiguration(migratesOnStart: migratesOnStart)
        if let schema { configuration.schema = schema }
        do {
            return try PostgresQueue(url: url ?? "", configuration: configuration, logger: logger)
        } catch {
            throw fail("offload: \(error.message).")
        }
    }

    /// The queue's address without its password, for messages.
    var place: String {
        guard let url, let components = URLComponents(string: url) else { return "the queue" }
        let host = components.host.map { "\($0)\(components.port.map { ":\($0)" } ?? "")" } ?? "localhost"
        let database = components.path.drop { $0 == "/" }
        return "\(host)/\(database.isEmpty ? (components.user ?? "") : String(database))"
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "offload.queue")
        logger.logLevel = .error
        return logger
    }

    /// Runs `body` with a running queue; a queue that does not answer within `timeout` ends the
    /// command with one sentence (host and database, never the password) and status 1. Only the
    /// first answer is bounded so: the work after it takes what it takes (a file of 200,000 jobs
    /// takes longer than 15 s), each statement bounded by the queue's `statementTimeout`.
    func withQueue<T: Sendable>(
        migratesOnStart: Bool = true, timeout: Duration? = .seconds(15),
        _ body: @escaping @Sendable (PostgresQueue) async throws -> T
    ) async throws -> T {
        let queue = try makeQueue(migratesOnStart: migratesOnStart)
        let place = self.place
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await queue.run()
                return nil
            }
            if let timeout {
                group.addTask {
                    let answered = try await withThrowingTaskGroup(of: Bool.self) { race in
                        race.addTask {
                            do { try await queue.ping() } catch let error as CancellationError { throw error } catch {
                                throw fail("offload: the queue at \(place) failed: \(describe(error)).")
                            }
                            return true
                        }
                        race.addTask {
                            try await Task.sleep(for: timeout)
                            return false
                        }
                        defer { race.cancelAll() }
                        return try await race.next() ?? false
                    }
                    guard answered else { throw fail("offload: no answer from the queue at \(place) within \(timeout).") }
                    return nil
                }
            }
            group.addTask {
                do { return try await body(queue) } catch let error as ExitCode { throw error } catch let error as OffloadError {
                    throw fail("offload: \(error.message).")
                } catch {
                    throw fail("offload: the queue at \(place) failed: \(describe(error)).")
                }
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw fail("offload: the queue at \(place) stopped.")
        }
    }
}
