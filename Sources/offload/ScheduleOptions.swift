import ArgumentParser
import Foundation
import Offload
import OffloadJobFiles
import OffloadPostgres

/// `--schedules FILE`: periodic jobs, one schedule a line (see ``ScheduleLine``).
struct ScheduleOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "A schedules file (JSON Lines): periodic jobs, {\"name\",\"cron\",\"timeZone\",\"missed\",\"job\"} a line. On a queue they are added (or replaced) at start.",
            valueName: "file"), completion: .file())
    var schedules: String?

    /// The file's schedules, their jobs of `kinds` (none without `--schedules`).
    func read(kinds: Set<String>) throws -> [Schedule] {
        guard let schedules else { return [] }
        let text: String
        do { text = try String(contentsOfFile: schedules, encoding: .utf8) } catch {
            throw fail("offload: cannot read the schedules file '\(schedules)': \(error.localizedDescription).")
        }
        do { return try ScheduleLine.parseFile(text, knownKinds: kinds) } catch {
            throw fail("offload: \(schedules): \(error.message).")
        }
    }

    /// Adds the file's schedules to the queue at `url` (each replacing the one of its name).
    func install(_ list: [Schedule], url: String, schema: String?) async throws {
        guard !list.isEmpty else { return }
        var queueOptions = QueueOptions()
        queueOptions.queue = url
        queueOptions.schema = schema
        try await queueOptions.withQueue { queue in
            for schedule in list { try await queue.addSchedule(schedule) }
        }
    }
}
