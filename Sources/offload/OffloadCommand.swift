import ArgumentParser
import Offload
import OffloadImage

#if canImport(Glibc)
import Glibc
#endif

@main
struct OffloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offload",
        abstract: "Run heavy jobs in a pool of background workers.",
        discussion: """
            Jobs are JSON Lines, one job a line: {"id":"a1","kind":"debug.sleep","priority":"high","payload":{"ms":50}}.
            Every job's result goes to OUT/results.jsonl as it ends.
            """,
        subcommands: [RunCommand.self, RenderCommand.self]
    )

    static func main() async {
        // Started by a pool in process isolation: run jobs, never the command line.
        if WorkerProcess.isWorker {
            let output = getenv(HandlerRegistry.outputDirectoryKey).map { String(cString: $0) } ?? "./out"
            WorkerProcess.runIfWorker(registry: HandlerRegistry.offloadCLI(outputDirectory: output))
        }
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
    /// Tells worker processes of `offload run` where job outputs go.
    static let outputDirectoryKey = "OFFLOAD_OUTPUT_DIR"

    /// The kinds `offload` runs, in the host and in its worker processes alike: the diagnostic
    /// kinds and `image` (writing to `outputDirectory`).
    static func offloadCLI(outputDirectory: String) -> HandlerRegistry {
        var registry = HandlerRegistry.diagnostics
        // The kind names are fixed and distinct, so registering cannot fail.
        try! registry.registerImage(outputDirectory: outputDirectory)
        return registry
    }
}
