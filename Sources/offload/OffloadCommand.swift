import ArgumentParser
import Offload

@main
struct OffloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offload",
        abstract: "Run heavy jobs in a pool of background workers.",
        discussion: """
            Jobs are JSON Lines, one job a line: {"id":"a1","kind":"debug.sleep","priority":"high","payload":{"ms":50}}.
            Every job's result goes to OUT/results.jsonl as it ends.
            """,
        subcommands: [RunCommand.self]
    )

    static func main() async {
        // Started by a pool in process isolation: run jobs, never the command line.
        WorkerProcess.runIfWorker(registry: .offloadCLI)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

extension HandlerRegistry {
    /// The kinds `offload` runs, in the host and in its worker processes alike.
    static var offloadCLI: HandlerRegistry { .diagnostics }
}
