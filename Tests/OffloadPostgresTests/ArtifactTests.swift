#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OffloadTestSupport
import Testing
@testable import Offload
@testable import OffloadPostgres

/// Writes `size` bytes of `fill` to FOLDER/<job id>.bin and names the file in its output.
struct WriteFile: JobHandler {
    struct Payload: Codable, Sendable {
        var size: Int
        var fill: UInt8
    }
    struct Output: Codable, Sendable { var file: String }
    static let kind = "test.write-file"
    let folder: String

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let path = "\(folder)/\(context.jobID).bin"
        writeFile(path, [UInt8](repeating: payload.fill, count: payload.size))
        return Output(file: path)
    }
}

extension PostgresTests {
    @Suite struct ArtifactTests {
        @Test func filesJobsWriteAreStoredOnceByContentAndServedToAnyHost() async throws {
            let folder = temporaryFolder("artifacts")
            defer { removeTree(folder) }
            var registry = HandlerRegistry()
            try registry.register(WriteFile(folder: folder))
            try await withQueue(configure: { $0.maxArtifactBytes = 100_000 }) { queue in
                try await withServer(queue, registry: registry, configure: { $0.artifactFolder = folder }) { _ in
                    let same = try await queue.submit([
                        PostgresQueue.Submission(Job(WriteFile.self, .init(size: 50_000, fill: 7))),
                        PostgresQueue.Submission(Job(WriteFile.self, .init(size: 50_000, fill: 7)))
                    ])
                    let big = try await queue.submit(WriteFile.self, .init(size: 200_000, fill: 1))
                    var shas: [String] = []
                    for id in same {
                        let done = try await queue.finished(id, timeout: .seconds(30))
                        #expect(done.state == .completed)
                        let sha = try #require(done.result?["artifact"]?["sha256"])
                        guard case .string(let text) = sha else {
                            Issue.record("no sha256 in \(String(describing: done.result))")
                            continue
                        }
                        shas.append(text)
                        #expect(try await queue.artifacts(of: id).map(\.name) == ["\(id).bin"])
                    }
                    #expect(shas.count == 2 && shas[0] == shas[1])
                    let (artifact, data) = try #require(try await queue.artifact(shas[0]))
                    #expect(artifact.size == 50_000 && artifact.contentType == "application/octet-stream")
                    #expect(Array(data) == [UInt8](repeating: 7, count: 50_000))
                    #expect(SHA256.hex(Array(data)) == shas[0])
                    // Over the cap: the job fails saying so; nothing is stored.
                    let refused = try await queue.finished(big, timeout: .seconds(30))
                    #expect(refused.state == .failed)
                    #expect(refused.error?.code == .resourceLimitExceeded)
                    #expect(refused.error?.message.contains("over the queue's artifact cap of 100,000") == true)
                    #expect(try await queue.artifacts(of: big).isEmpty)
                    #expect(try await queue.artifact(String(repeating: "0", count: 64)) == nil)
                    #expect(try await queue.artifact("../etc/passwd") == nil)
                }
            }
        }

        @Test func aCardRenderedByAWorkerProcessIsFetchedWithTheCommandLine() async throws {
            let schema = TestDatabase.schema()
            let url = try database.url
            try await withQueue(schema: schema) { queue in
                let host = try WorkerHostProcess.start(url: url, schema: schema, ["--workers", "1"])
                let id = try await queue.submit(Job(kind: "image", payload: .json(["params": ["title": "From the queue"]])))
                let done = try await queue.finished(id, timeout: .seconds(60))
                #expect(done.state == .completed, "\(String(describing: done.error))")
                #expect(done.result?["artifact"]?["contentType"] == "image/png")
                let folder = temporaryFolder("fetched")
                defer { removeTree(folder) }
                let child = try ChildProcess.spawn(
                    executable: builtExecutable("offload"),
                    arguments: ["artifacts", "get", id.rawValue, "-o", "\(folder)/card.png", "--queue", url, "--schema", schema],
                    environment: ["PATH=/usr/bin:/bin"], directory: folder)
                close(child.toChild)
                close(child.fromChild)
                var chunk = [UInt8](repeating: 0, count: 4_096)
                while read(child.output, &chunk, chunk.count) > 0 {}
                close(child.output)
                #expect(child.waitForExit() == 0)
                let png = readFile("\(folder)/card.png")
                #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
                #expect(png.count > 10_000)
                #expect(try await host.stop().status == 0)
            }
        }
    }
}
