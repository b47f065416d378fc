import ArgumentParser
import OffloadPostgres

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or bring up to date the queue's tables in PostgreSQL.",
        discussion: "Safe to run again and from several hosts at once; `offload worker` and `offload submit` also migrate when they start."
    )

    @OptionGroup var queueOptions: QueueOptions

    func run() async throws {
        let (applied, version, schema) = try await queueOptions.withQueue(migratesOnStart: false) { queue in
            (try await queue.migrate(), try await queue.schemaVersion(), queue.configuration.schema)
        }
        if applied.isEmpty {
            print("offload: the queue's schema \(schema) at \(queueOptions.place) is up to date (version \(version)).")
        } else {
            print("offload: migrated the queue's schema \(schema) at \(queueOptions.place) to version \(version).")
        }
    }
}
