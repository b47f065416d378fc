import ArgumentParser
import Foundation
import Offload
import OffloadJobFiles
import OffloadPostgres

/// `offload schedules`: a queue's periodic jobs.
struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "Add, list, pause, resume and remove a PostgreSQL queue's periodic jobs (each tick runs once, on any host).",
        subcommands: [List.self, Add.self, Remove.self, Pause.self, Resume.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the schedules, each with its next tick, its last run and that run's job, as JSON Lines.")
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            for state in try await queueOptions.withQueue({ try await $0.schedules() }) {
                print(JSONWriter.string(ScheduleLine.view(state)))
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the schedules of a file (JSON Lines, '-' for standard input), each replacing the one of its name.")
        @Argument(help: "The schedules file.", completion: .file()) var file: String
        @Flag(name: .long, help: "Jobs of the diagnostic kinds (debug.*) may be scheduled too.") var diagnostics = false
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                    throw fail("offload: cannot read '\(file)': \(error.localizedDescription).")
                }
            }
            let kinds = Set(HandlerRegistry.offloadCLI(outputDirectory: ".", allowedRoots: [], plugins: "plugins", diagnostics: diagnostics).kinds)
            let schedules: [Schedule]
            do { schedules = try ScheduleLine.parseFile(text, knownKinds: kinds) } catch { throw fail("offload: \(file): \(error.message).") }
            try await queueOptions.withQueue { queue in
                for schedule in schedules { try await queue.addSchedule(schedule) }
            }
            print("offload: \(schedules.count) schedule\(schedules.count == 1 ? "" : "s") added to \(queueOptions.place).")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a schedule (the jobs it submitted go on).")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let name = self.name
            try await SchedulesCommand.act(on: name, "removed", queueOptions) { try await $0.removeSchedule(name) }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop running a schedule's ticks until it is resumed.")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let name = self.name
            try await SchedulesCommand.act(on: name, "paused", queueOptions) { try await $0.setSchedulePaused(true, name: name) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a paused schedule's ticks again, from its next one.")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let name = self.name
            try await SchedulesCommand.act(on: name, "resumed", queueOptions) { try await $0.setSchedulePaused(false, name: name) }
        }
    }

    /// Runs `action` on the schedule named `name`, says `done` of it, or fails when the queue
    /// has no such schedule.
    static func act(
        on name: String, _ done: String, _ queueOptions: QueueOptions, _ action: @escaping @Sendable (PostgresQueue) async throws -> Bool
    ) async throws {
        guard try await queueOptions.withQueue(action) else {
            throw fail("offload: the queue at \(queueOptions.place) has no schedule '\(name)'.")
        }
        print("\(name)  \(done)")
    }
}
