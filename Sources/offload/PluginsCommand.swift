import ArgumentParser
import Offload
import OffloadPlugins

/// `offload plugins list` and `offload plugins check DIR`.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the plugins of a folder, or check one plugin folder.",
        subcommands: [List.self, Check.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the plugins under a folder (one subfolder with plugin.json each).")

        @Option(name: .long, help: "The folder of plugins.", completion: .directory)
        var plugins = "plugins"

        func run() async throws {
            let catalog = PluginCatalog(directory: plugins)
            if let problem = catalog.folderProblem {
                FileSink.standardError.write(Array("offload: cannot read the plugin folder \(plugins): \(problem)\n".utf8))
                FileSink.standardError.flush()
                throw ExitCode(1)
            }
            guard !catalog.entries.isEmpty else {
                print("no plugins in \(plugins)")
                return
            }
            for entry in catalog.entries {
                if let manifest = entry.manifest {
                    let limits = [
                        manifest.limits.fuel.map { "fuel \($0)" }, manifest.limits.memoryMb.map { "\($0) MiB" },
                        manifest.limits.timeoutMs.map { "\($0) ms" }
                    ].compactMap { $0 }
                    print(
                        "\(manifest.id) \(manifest.version)  \(manifest.operations.map(\.rawValue).sorted().joined(separator: ", "))  \(manifest.module)"
                            + (limits.isEmpty ? "" : "  (\(limits.joined(separator: ", ")))"))
                } else {
                    print("\(entry.folder): not a plugin: \(entry.problem?.message ?? "")")
                }
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a plugin folder: its manifest, module, checksum, imports and exports.")

        @Argument(help: "The plugin's folder.", completion: .directory)
        var folder: String

        func run() async throws {
            do {
                let plugin = try PluginCatalog.check(folder: folder)
                print(
                    "ok: \(plugin.manifest.id) \(plugin.manifest.version), operations \(plugin.manifest.operations.map(\.rawValue).sorted().joined(separator: ", "))"
                )
            } catch {
                FileSink.standardError.write(Array("\(folder): \(error.code): \(error.message)\n".utf8))
                FileSink.standardError.flush()
                throw ExitCode(1)
            }
        }
    }
}
