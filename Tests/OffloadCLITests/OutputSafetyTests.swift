#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

extension CommandLineTests {
    /// Where `offload run` reads and writes, as a hostile folder meets it: a link where a result
    /// goes is not followed, a device is not read as a job file, and what a job brings never
    /// drives the terminal.
    @Suite struct OutputSafetyTests {
        let offload = builtExecutable("offload")

        @Test func linksWhereResultsOrFilesGoAreNotFollowed() async throws {
            let folder = temporaryFolder("links")
            defer { removeTree(folder) }
            writeFile("\(folder)/jobs.jsonl", #"{"id":"a","kind":"debug.echo","payload":{}}"# + "\n")
            writeFile("\(folder)/elsewhere.txt", "precious\n")
            for (name, target) in [("results.jsonl", "\(folder)/elsewhere.txt"), ("files", folder)] {
                let out = "\(folder)/out-\(name)"
                mkdir(out, 0o755)
                symlink(target, "\(out)/\(name)")
                let run = try await runCommand(offload, ["run", "\(folder)/jobs.jsonl", "--out", out, "--isolation", "thread"])
                #expect(run.status == 1, "\(run.output)")
                #expect(run.output.contains("symbolic link"), "\(run.output)")
            }
            #expect(String(decoding: readFile("\(folder)/elsewhere.txt"), as: UTF8.self) == "precious\n")
        }

        @Test func aDeviceIsNotAJobFile() async throws {
            let run = try await runCommand(offload, ["run", "/dev/zero", "--out", temporaryFolder("zero")], timeout: .seconds(30))
            #expect(run.status == 1, "\(run.output)")
            #expect(run.output.contains("device"), "\(run.output)")
            #expect(run.elapsed < .seconds(10))
        }

        @Test func controlCharactersAJobPrintsReachTheTerminalEscaped() async throws {
            let folder = temporaryFolder("escapes")
            defer { removeTree(folder) }
            // debug.crash names its job in its last words, which --verbose copies to stderr.
            writeFile("\(folder)/jobs.jsonl", #"{"id":"\u001b[2J\u001b]0;owned\u0007","kind":"debug.crash"}"# + "\n")
            let run = try await runCommand(offload, ["run", "\(folder)/jobs.jsonl", "--out", "\(folder)/out", "--verbose"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("\\x1b[2J"), "\(run.output.suffix(500))")
            #expect(!run.output.utf8.contains(0x1B))
            #expect(!run.output.utf8.contains(0x07))
        }
    }
}
