import ArgumentParser
import Logging
import Offload
import OffloadAnalytics
import OffloadData
import OffloadImage
import OffloadPlugins

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
        subcommands: [
            RunCommand.self, RenderCommand.self, PluginsCommand.self, WorkerCommand.self, ServeCommand.self, SubmitCommand.self, StatusCommand.self,
            JobsCommand.self, KindsCommand.self, SchedulesCommand.self, ArtifactsCommand.self, MigrateCommand.self, SignCardCommand.self
        ]
    )

    static func main() async {
        // Started by a pool in process isolation: run jobs, never the command line.
        if WorkerProcess.isWorker {
            let output = getenv(HandlerRegistry.outputDirectoryKey).map { String(cString: $0) } ?? "./out"
            let roots = getenv(HandlerRegistry.allowedRootsKey).map { String(cString: $0).split(separator: "\n").map(String.init) } ?? ["."]
            let plugins = getenv(HandlerRegistry.pluginsDirectoryKey).map { String(cString: $0) } ?? "plugins"
            let diagnostics = getenv(HandlerRegistry.diagnosticsKey).map { String(cString: $0) == "1" } ?? true
            WorkerProcess.runIfWorker(
                registry: HandlerRegistry.offloadCLI(
                    outputDirectory: output, allowedRoots: roots, plugins: plugins,
                    diagnostics: diagnostics))
        }
        LoggingSystem.bootstrap { TerminalLogHandler(label: $0) }
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
    /// Tell worker processes of `offload` where job outputs go and which folders jobs may read.
    static let outputDirectoryKey = "OFFLOAD_OUTPUT_DIR"
    static let allowedRootsKey = "OFFLOAD_ALLOWED_ROOTS"
    static let pluginsDirectoryKey = "OFFLOAD_PLUGINS_DIR"
    static let diagnosticsKey = "OFFLOAD_DIAGNOSTICS"

    /// The kinds `offload` runs, in the host and in its worker processes alike: `image`, `data`
    /// and `analytics` (writing to `outputDirectory`, reading files under `allowedRoots`),
    /// `plugin` (the plugins under `plugins`), and with `diagnostics` the diagnostic kinds
    /// (`debug.*`: hangs, crashes and allocations on demand, for testing, never for a service
    /// open to others unless asked for).
    static func offloadCLI(
        outputDirectory: String, allowedRoots: [String], plugins: String = "plugins",
        diagnostics: Bool = true
    ) -> HandlerRegistry {
        var registry = diagnostics ? HandlerRegistry.diagnostics : HandlerRegistry()
        // The kind names are fixed and distinct, so registering cannot fail.
        try! registry.registerImage(outputDirectory: outputDirectory, sources: ImageSources(allowedRoots: allowedRoots))
        try! registry.registerData(outputDirectory: outputDirectory, folders: AllowedFolders(allowedRoots))
        try! registry.registerAnalytics(folders: AllowedFolders(allowedRoots))
        try! registry.registerPlugins(directory: plugins)
        return registry
    }

    /// The environment worker processes need to build the same registry.
    static func workerEnvironment(
        outputDirectory: String, allowedRoots: [String], plugins: String = "plugins",
        diagnostics: Bool = true
    ) -> [String: String] {
        [
            outputDirectoryKey: outputDirectory, allowedRootsKey: allowedRoots.joined(separator: "\n"), pluginsDirectoryKey: plugins,
            diagnosticsKey: diagnostics ? "1" : "0"
        ]
    }
}

/// The folder part of a path (`.` for a bare name).
func folder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
