import ArgumentParser
import Foundation
import Offload
import OffloadPostgres

struct ArtifactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts",
        abstract: "Fetch the files jobs left in a PostgreSQL queue.",
        subcommands: [Get.self, List.self]
    )

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an artifact to a file: by its SHA-256, or a job's (its only one, or --name).")
        @Argument(help: "The artifact's SHA-256 (hex) or a job's id.") var id: String
        @Option(name: .shortAndLong, help: "The file to write ('-' for standard output).") var output: String
        @Option(name: .long, help: "Of a job with several artifacts, the one of this name.") var name: String?
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let id = self.id, name = self.name
            let found = try await queueOptions.withQueue { queue -> (Artifact, Data)? in
                if let direct = try await queue.artifact(id) { return direct }
                let artifacts = try await queue.artifacts(of: JobID(id)).filter { name == nil || $0.name == name }
                guard artifacts.count == 1 else {
                    if artifacts.count > 1 {
                        throw OffloadError(
                            .invalidPayload,
                            "job \(id) has \(artifacts.count) artifacts (\(artifacts.map(\.name).joined(separator: ", "))); choose one with --name")
                    }
                    return nil
                }
                return try await queue.artifact(artifacts[0].artifact.sha256)
            }
            guard let (artifact, data) = found else { throw fail("offload: the queue at \(queueOptions.place) holds no artifact \(id).") }
            if output == "-" {
                FileSink.standardOutput.write(Array(data))
                FileSink.standardOutput.flush()
                return
            }
            do { try data.write(to: URL(fileURLWithPath: output)) } catch {
                throw fail("offload: cannot write '\(output)': \(error.localizedDescription).")
            }
            FileSink.standardError.write(
                Array("offload: wrote \(output) (\(artifact.contentType), \(artifact.size) bytes, sha256 \(artifact.sha256)).\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a job's artifacts.")
        @Argument(help: "The job's id.") var id: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let id = JobID(self.id)
            for (name, artifact) in try await queueOptions.withQueue({ try await $0.artifacts(of: id) }) {
                print("\(artifact.sha256)  \(artifact.size)  \(artifact.contentType)  \(name)")
            }
        }
    }
}
