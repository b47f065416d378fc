#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

extension CommandLineTests {
    /// In thread isolation nothing can kill a job, so every built-in kind must stop by itself when
    /// its timeout comes: a long render, encode, sort, regular-expression match, event scan or
    /// plugin ends at its deadline and frees its worker for the next job, instead of burning a
    /// core until the pool gives the worker up (after the grace period, 1 s).
    @Suite struct StopOnTimeTests {
        @Test func everyBuiltInKindStopsAtItsDeadlineInThreads() async throws {
            let folder = temporaryFolder("stop-on-time")
            defer { removeTree(folder) }
            // Written by awk: building them here would hold a thread of the cooperative pool for seconds.
            let generate = try await runCommand(
                "/bin/sh",
                [
                    "-c",
                    #"""
                    awk 'BEGIN { for (i = 0; i < 150000; i++) printf "{\"i\":%d,\"s\":\"r%d\"}\n", (i * 7919) % 150000, i }' > records.jsonl &&
                    awk 'BEGIN { for (i = 0; i < 150000; i++) printf "{\"eventType\":\"e%d\",\"timestamp\":%d,\"sessionId\":\"s%d\",\"durationMs\":%d}\n", i % 50, 1700000000 + i, i, i % 900 }' > events.jsonl &&
                    awk 'BEGIN { s = "ab"; while (length(s) < 600000) s = s s; for (i = 0; i < 20; i++) printf "{\"s\":\"%s\"}\n", s }' > long.jsonl
                    """#
                ], directory: folder)
            #expect(generate.status == 0, "\(generate.output)")
            let slow: [(id: String, line: String)] = [
                (
                    "blur",
                    #"{"kind":"image","timeoutMs":300,"payload":{"dimensions":{"width":4096,"height":2304},"params":{"title":"blur"},"filters":\#("[" + Array(repeating: #"{"type":"blur","radius":60}"#, count: 30).joined(separator: ",") + "]")}}"#
                ),
                (
                    "webp",
                    #"{"kind":"image","timeoutMs":60,"payload":{"dimensions":{"width":4096,"height":2304},"outputFormat":"webp","params":{"title":"webp"}}}"#
                ),
                (
                    "gif",
                    #"{"kind":"image","timeoutMs":300,"payload":{"outputFormat":"gif","frameRate":15,"animations":[{"type":"fadeIn","durationMs":6000}],"params":{"title":"gif"}}}"#
                ),
                (
                    "sort",
                    #"{"kind":"data","timeoutMs":200,"payload":{"input":{"path":"records.jsonl"},"pipeline":[{"op":"sort","by":[{"field":"i"}]}]}}"#
                ),
                (
                    "regex",
                    #"{"kind":"data","timeoutMs":200,"payload":{"input":{"path":"long.jsonl"},"pipeline":[{"op":"transform","fields":[{"target":"t","type":"regexReplace","source":"s","pattern":"(a|b)*c","replacement":""}]}]}}"#
                ),
                (
                    "analytics",
                    #"{"kind":"analytics","timeoutMs":200,"payload":{"events":{"path":"events.jsonl"},"aggregate":{"groupBy":["eventType"],"granularity":"minute","metrics":[{"fn":"percentile","field":"durationMs","p":95,"as":"p95"},{"fn":"unique","field":"sessionId","as":"sessions"}]}}}"#
                ),
                (
                    "plugin",
                    #"{"kind":"plugin","timeoutMs":300,"payload":{"pluginId":"hostile-spin","operation":"transform","input":{},"context":{"fuel":100000000000,"timeoutMs":60000}}}"#
                )
            ]
            var lines: [String] = []
            for job in slow {
                lines.append(#"{"id":"\#(job.id)","# + job.line.dropFirst())
                lines.append(#"{"id":"after-\#(job.id)","kind":"debug.echo"}"#)
            }
            writeFile("\(folder)/slow.jsonl", lines.joined(separator: "\n") + "\n")
            let run = try await runCommand(
                builtExecutable("offload"),
                [
                    "run", "slow.jsonl", "--isolation", "thread", "--workers", "1", "--plugins", "\(PluginJobFileTests.root)/examples/plugins",
                    "--out", "out", "--quiet", "--limit", "heldRecords=10000000"
                ], directory: folder, timeout: .seconds(300))
            #expect(run.status == 0, "\(run.output.suffix(2_000))")
            let results = try resultLines(in: "\(folder)/out")
            for job in slow {
                let result = results[job.id]
                #expect(result?["error"]?["code"] == .string("timedOut"), "\(job.id): \(result.map(JSONWriter.string)?.prefix(300) ?? "no result")")
                // A job that stops on time ends its run just past its timeout; one the pool must
                // give up on runs until the grace period is over (1 s more).
                let timeout = try JSONParser.parse(job.line)["timeoutMs"]?.doubleValue ?? 0
                let late = (result?["runMs"]?.doubleValue ?? .infinity) - timeout
                #expect(late < 750, "\(job.id): stopped \(late) ms after its timeout")
                // With one worker, the next job starts when this one lets its worker go.
                let ended = (result?["waitMs"]?.doubleValue ?? 0) + (result?["runMs"]?.doubleValue ?? 0)
                let next = results["after-\(job.id)"]?["waitMs"]?.doubleValue ?? .infinity
                #expect(next - ended < 750, "\(job.id): the next job started \(next - ended) ms after it ended")
                #expect(results["after-\(job.id)"]?["status"] == .string("completed"))
            }
            // No picture was written after its job was reported timed out.
            for id in ["blur", "webp", "gif"] {
                #expect(readFile("\(folder)/out/files/\(id).png").isEmpty && readFile("\(folder)/out/files/\(id).webp").isEmpty)
            }
        }
    }
}
