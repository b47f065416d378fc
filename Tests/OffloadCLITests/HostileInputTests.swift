#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

extension CommandLineTests {
    /// Job lines an attacker or a careless user writes, run through `offload run` in both
    /// isolations: each ends that one job with its typed error (or completes, where that is
    /// right), the good job after each one completes, nothing is lost or overwritten, and the run
    /// exits 0.
    @Suite struct HostileInputTests {
        /// A hostile job and what it must end as.
        struct Case {
            var id: String
            var line: String
            /// `nil`: it completes.
            var code: String?
            /// Words its message must hold.
            var message: String?
            /// Only in this isolation (a diagnostic kind's memory is capped by a worker process only).
            var only: String?
            /// The line is not JSON: its result carries its line number as id.
            var malformed = false
        }

        static let root = PluginJobFileTests.root

        /// The job file's folder, with the pictures and plugins the cases name.
        static func makeFixtures(in folder: String) async throws {
            let render = try await runCommand(
                builtExecutable("offload"),
                [
                    "render", "--title", "Big", "--width", "4096", "--height", "2304",
                    "-o", "\(folder)/big.png"
                ])
            #expect(render.status == 0, "\(render.output)")
            let big = readFile("\(folder)/big.png")
            for index in 1...5 { writeFile("\(folder)/big\(index).png", big) }
            mkdir("\(folder)/plugins", 0o755)
            // A FIFO where a manifest should be: reading it must not block the run, nor listing.
            mkdir("\(folder)/plugins/fifo", 0o755)
            mkfifo("\(folder)/plugins/fifo/plugin.json", 0o644)
            mkdir("\(folder)/plugins/deep", 0o755)
            writeFile("\(folder)/plugins/deep/plugin.json", #"{"id":"deep","version":"1.0.0","module":"deep.wat","operations":["transform"]}"#)
            writeFile(
                "\(folder)/plugins/deep/deep.wat",
                #"(module (func (export "transform") (param i32 i32) (result i64) "# + String(repeating: "(block ", count: 10_000)
                    + String(repeating: ")", count: 10_000) + " i64.const 0))")
            mkdir("\(folder)/plugins/echo", 0o755)
            for file in ["plugin.json", "module.wat"] {
                writeFile("\(folder)/plugins/echo/\(file)", readFile("\(root)/examples/plugins/echo/\(file)"))
            }
            // A file whose inline output is too large for a result.
            var wide = ""
            for index in 0..<1_000 { wide += #"{"i":\#(index),"pad":"\#(String(repeating: "w", count: 2_200))"}"# + "\n" }
            writeFile("\(folder)/wide.jsonl", wide)
        }

        static func cases() -> [Case] {
            func data(_ pipeline: String, input: String = #"[{"a":1,"s":"x","t":1700000000}]"#) -> String {
                #"{"kind":"data","payload":{"input":\#(input),"pipeline":\#(pipeline)}}"#
            }
            let layer = #"{"type":"image","src":"big.png","x":0,"y":0,"width":64,"height":64}"#
            let distinct = (1...5).map { #"{"type":"image","src":"big\#($0).png","x":0,"y":0,"width":64,"height":64}"# }
            let manyKeys = "[" + (0..<3_000).map { #"{"k":"key-\#($0)","v":\#($0)}"# }.joined(separator: ",") + "]"
            let manyEvents = "[" + (0..<3_000).map { #"{"eventType":"e\#($0)","timestamp":\#(1_700_000_000 + $0)}"# }.joined(separator: ",") + "]"
            return [
                // Parsers and evaluators: depth, length, arithmetic.
                Case(
                    id: "calc-8000-deep",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"b","type":"calculation","expr":"\#(String(repeating: "(", count: 8_000))a\#(String(repeating: ")", count: 8_000))"}]}]"#
                    ),
                    code: "invalidPayload", message: "over the limit of 4,096"),
                Case(
                    id: "calc-2000-deep",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"b","type":"calculation","expr":"\#(String(repeating: "(", count: 2_000))a\#(String(repeating: ")", count: 2_000))"}]}]"#
                    ),
                    code: "invalidPayload", message: "nests deeper than 128"),
                Case(
                    id: "calc-2000-terms",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"b","type":"calculation","expr":"\#(Array(repeating: "a", count: 2_000).joined(separator: "-"))"}]}]"#
                    ),
                    code: "invalidPayload", message: "nests deeper than 128"),
                Case(
                    id: "calc-unary",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"b","type":"calculation","expr":"\#(String(repeating: "-", count: 3_000))a"}]}]"#),
                    code: "invalidPayload", message: "payload.pipeline[0].fields[0].expr"),
                Case(
                    id: "analytics-1e300",
                    line:
                        #"{"kind":"analytics","payload":{"events":[{"eventType":"view","timestamp":1e300}],"aggregate":{"granularity":"hour","metrics":[{"fn":"count","as":"n"}]}}}"#,
                    code: "invalidPayload", message: "payload.events line 1: timestamp"),
                Case(
                    id: "date-1e300",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"d","type":"dateFormat","source":"t","format":"yyyy"}]}]"#, input: #"[{"t":1e300}]"#)
                ),
                Case(
                    id: "date-pattern-long",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"d","type":"dateFormat","source":"t","format":"\#(String(repeating: "y", count: 10_000))"}]}]"#
                    ),
                    code: "invalidPayload", message: "over the limit of 256"),
                Case(
                    id: "number-format-1e308",
                    line: data(
                        #"[{"op":"transform","fields":[{"target":"b","type":"numberFormat","source":"a","decimals":2,"grouping":true}]}]"#,
                        input: #"[{"a":1e308}]"#)),
                Case(
                    id: "regex-redos",
                    line:
                        #"{"kind":"data","timeoutMs":1000,"payload":{"input":[{"s":"\#(String(repeating: "a", count: 40))b"}],"pipeline":[{"op":"filter","where":{"field":"s","cmp":"regex","value":"(a+)+$"}}]}}"#
                ),
                Case(
                    id: "regex-replace-redos",
                    line:
                        #"{"kind":"data","timeoutMs":1000,"payload":{"input":[{"s":"\#(String(repeating: "a", count: 5_000))"}],"pipeline":[{"op":"transform","fields":[{"target":"t","type":"regexReplace","source":"s","pattern":"(a|aa)*c","replacement":"x"}]}]}}"#
                ),
                Case(
                    id: "regex-backreference", line: data(#"[{"op":"filter","where":{"field":"s","cmp":"regex","value":"(a)\\1"}}]"#),
                    code: "invalidPayload", message: "backreferences are not supported"),
                Case(
                    id: "regex-huge-repeat", line: data(#"[{"op":"filter","where":{"field":"s","cmp":"regex","value":"(a{1000}){1000}"}}]"#),
                    code: "invalidPayload", message: "too large"),
                Case(
                    id: "field-path-deep",
                    line: data(#"[{"op":"select","fields":["\#(Array(repeating: "a", count: 5_000).joined(separator: "."))"]}]"#),
                    code: "invalidPayload", message: "over the limit of 1024 bytes"),
                Case(
                    id: "json-600-deep",
                    line:
                        #"{"id":"json-600-deep","kind":"debug.echo","payload":\#(String(repeating: "[", count: 600))\#(String(repeating: "]", count: 600))}"#,
                    code: "invalidPayload", message: "nesting deeper than 512", malformed: true),
                Case(
                    id: "number-10mb",
                    line: #"{"id":"number-10mb","kind":"debug.echo","payload":{"n":\#(String(repeating: "9", count: 10_000_000))}}"#,
                    code: "invalidPayload", message: "bytes)", malformed: true),
                Case(
                    id: "wat-10000-deep", line: #"{"kind":"plugin","payload":{"pluginId":"deep","operation":"transform","input":{}}}"#,
                    code: "invalidPlugin", message: "nests deeper than 256"),
                Case(id: "plugin-beside-a-fifo", line: #"{"kind":"plugin","payload":{"pluginId":"echo","operation":"transform","input":{"a":1}}}"#),
                // Budgets.
                Case(
                    id: "layers-150",
                    line:
                        #"{"kind":"image","payload":{"params":{"title":"x","layers":[\#(Array(repeating: layer, count: 150).joined(separator: ","))]}}}"#,
                    code: "resourceLimitExceeded", message: "over the layers limit of 64"),
                Case(
                    id: "layers-60-one-picture",
                    line:
                        #"{"kind":"image","payload":{"params":{"title":"x","layers":[\#(Array(repeating: layer, count: 60).joined(separator: ","))]}}}"#
                ),
                Case(
                    id: "five-big-pictures",
                    line: #"{"kind":"image","payload":{"params":{"title":"x","layers":[\#(distinct.joined(separator: ","))]}}}"#,
                    code: "resourceLimitExceeded", message: "decodedPixels limit of 40,000,000"),
                Case(
                    id: "group-keys", line: data(#"[{"op":"group","by":["k"],"aggregates":[{"fn":"sum","field":"v","as":"s"}]}]"#, input: manyKeys),
                    code: "resourceLimitExceeded", message: "over the groups limit of 1,000"),
                Case(
                    id: "analytics-buckets",
                    line:
                        #"{"kind":"analytics","payload":{"events":\#(manyEvents),"aggregate":{"groupBy":["eventType"],"granularity":"second","metrics":[{"fn":"count","as":"n"}]}}}"#,
                    code: "resourceLimitExceeded", message: "groups limit"),
                Case(
                    id: "payload-too-big", line: #"{"kind":"debug.echo","payload":{"pad":"\#(String(repeating: "p", count: 3_000_000))"}}"#,
                    code: "resourceLimitExceeded", message: "the payload is 3,000,010 bytes of JSON, over the messageBytes limit of 2,000,000"),
                Case(
                    id: "result-too-big", line: data("[]", input: #"{"path":"wide.jsonl"}"#),
                    code: "resourceLimitExceeded", message: "the result is"),
                Case(
                    id: "alloc-past-the-memory-limit", line: #"{"kind":"debug.alloc","payload":{"mb":2048}}"#,
                    code: "memoryLimitExceeded", only: "process"),
                // Paths, names and times.
                Case(
                    id: "outside", line: data("[]", input: #"{"path":"/etc/passwd"}"#),
                    code: "invalidPayload", message: "'/etc/passwd' is not a file under the allowed folders"),
                Case(
                    id: "missing", line: data("[]", input: #"{"path":"/etc/no-such-file"}"#),
                    code: "invalidPayload", message: "'/etc/no-such-file' is not a file under the allowed folders"),
                Case(id: "results", line: data("[]", input: "[" + (0..<1_500).map { #"{"i":\#($0)}"# }.joined(separator: ",") + "]")),
                Case(id: "a/b", line: #"{"kind":"image","payload":{"params":{"title":"a/b"}}}"#),
                Case(id: "a_b", line: #"{"kind":"image","payload":{"params":{"title":"a_b"}}}"#),
                Case(id: #"a\b"#, line: #"{"kind":"image","payload":{"params":{"title":"a back b"}}}"#),
                Case(id: "..", line: #"{"kind":"image","payload":{"params":{"title":"dot dot"}}}"#),
                Case(id: ".", line: #"{"kind":"image","payload":{"params":{"title":"dot"}}}"#),
                Case(id: "...", line: #"{"kind":"image","payload":{"params":{"title":"three dots"}}}"#),
                Case(
                    id: "run-at-2099", line: #"{"kind":"debug.echo","runAt":"2099-01-01T00:00:00Z"}"#,
                    code: "invalidPayload", message: "further off than the most a job may wait"),
                Case(
                    id: "delay-a-week", line: #"{"kind":"debug.echo","delayMs":604800000}"#,
                    code: "invalidPayload", message: "delayMs must be at most")
            ]
        }

        /// The job file: each case, then a good job that must complete after it.
        static func jobFile(_ cases: [Case]) -> String {
            var lines: [String] = []
            for hostile in cases {
                var line = hostile.line
                if !line.contains(#""id":"#) { line = #"{"id":\#(JSONWriter.string(.string(hostile.id))),"# + line.dropFirst() }
                lines.append(line)
                lines.append(#"{"id":\#(JSONWriter.string(.string("good-after-" + hostile.id))),"kind":"debug.echo"}"#)
            }
            return lines.joined(separator: "\n") + "\n"
        }

        @Test(arguments: ["thread", "process"])
        func everyHostileLineEndsItsJobAloneAndTheRunExitsZero(isolation: String) async throws {
            let folder = temporaryFolder("hostile-\(isolation)")
            defer { removeTree(folder) }
            try await Self.makeFixtures(in: folder)
            let cases = Self.cases().filter { $0.only == nil || $0.only == isolation }
            writeFile("\(folder)/hostile.jsonl", Self.jobFile(cases))
            let out = "\(folder)/out"
            let run = try await runCommand(
                builtExecutable("offload"),
                [
                    "run", "hostile.jsonl", "--isolation", isolation, "--workers", "1", "--plugins", "plugins", "--out", out, "--quiet",
                    "--limit", "groups=1000", "--limit", "messageBytes=2000000"
                ], directory: folder, timeout: .seconds(300))
            #expect(run.status == 0, "\(run.output.suffix(2_000))")
            let results = try resultLines(in: out)
            #expect(results.count == cases.count * 2, "every job has its result line")
            var failures: [String] = []
            for (index, hostile) in cases.enumerated() {
                guard let result = results[hostile.malformed ? String(index * 2 + 1) : hostile.id] else {
                    failures.append("\(hostile.id): no result")
                    continue
                }
                let status = result["status"]?.stringValue
                let code = result["error"]?["code"]?.stringValue
                let message = result["error"]?["message"]?.stringValue ?? ""
                if let expected = hostile.code {
                    if status != "failed" || code != expected {
                        failures.append("\(hostile.id): \(status ?? "?") \(code ?? "-") \(message.prefix(200)), expected \(expected)")
                    }
                    if let words = hostile.message, !message.contains(words) {
                        failures.append("\(hostile.id): message '\(message.prefix(300))' lacks '\(words)'")
                    }
                    // Errors quote their input, never all of it.
                    if message.utf8.count > OffloadError.maxMessageLength * 2 {
                        failures.append("\(hostile.id): a \(message.utf8.count)-byte message")
                    }
                } else if status != "completed" {
                    failures.append("\(hostile.id): \(status ?? "?") \(code ?? "-") \(message.prefix(300)), expected completed")
                }
                if results["good-after-\(hostile.id)"]?["status"] != .string("completed") {
                    failures.append("good-after-\(hostile.id): \(results["good-after-\(hostile.id)"].map(JSONWriter.string) ?? "no result")")
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
            // 1e308 written out, not "inf".
            guard case .array(let records)? = results["number-format-1e308"]?["result"]?["records"] else {
                Issue.record("number-format-1e308 has no records")
                return
            }
            let formatted = records.first?["b"]?.stringValue ?? ""
            #expect(formatted.hasPrefix("100,000,000,000,000,001,097,906") && !formatted.contains("inf"))
            // Separate namespaces: the data job called "results" did not overwrite results.jsonl,
            // and six ids that used to share two files have six.
            #expect(results["results"]?["result"]?["file"] == .string("\(out)/files/results.jsonl"))
            let images = ["a/b", "a_b", #"a\b"#, "..", ".", "..."].compactMap { results[$0]?["result"]?["file"]?.stringValue }
            #expect(Set(images).count == 6, "\(images)")
            for file in images { #expect(file.hasPrefix("\(out)/files/") && !readFile(file).isEmpty, "\(file)") }
        }

        @Test func aJobFileThatCannotBeReadToItsEndIsAnError() async throws {
            let folder = temporaryFolder("unreadable")
            defer { removeTree(folder) }
            // /proc/self/mem refuses to be read at offset 0 (EIO): a read error on the first line.
            let run = try await runCommand(builtExecutable("offload"), ["run", "/proc/self/mem", "--out", "\(folder)/out", "--quiet"])
            #expect(run.status == 1)
            #expect(run.output.contains("cannot read job file '/proc/self/mem' past line 0"), "\(run.output)")
        }

        @Test func aLineOverTheLimitFailsItsJobAndTheFileGoesOn() async throws {
            let folder = temporaryFolder("long-line")
            defer { removeTree(folder) }
            let long = #"{"id":"long","kind":"debug.echo","payload":{"pad":"\#(String(repeating: "z", count: 3 << 20))"}}"#
            writeFile("\(folder)/jobs.jsonl", long + "\n" + #"{"id":"after","kind":"debug.echo"}"# + "\n")
            let run = try await runCommand(
                builtExecutable("offload"),
                [
                    "run", "jobs.jsonl", "--isolation", "thread", "--max-line-bytes", "1048576",
                    "--out", "out", "--quiet"
                ], directory: folder)
            #expect(run.status == 0, "\(run.output)")
            let results = try resultLines(in: "\(folder)/out")
            #expect(results["1"]?["error"]?["code"] == .string("resourceLimitExceeded"))
            #expect(results["1"]?["error"]?["message"]?.stringValue?.contains("line 1 is \(OffloadError.grouped(long.utf8.count)) bytes") == true)
            #expect(results["after"]?["status"] == .string("completed"))
        }

        @Test func renderRefusesAnEndlessParamsFile() async throws {
            let run = try await runCommand(
                builtExecutable("offload"), ["render", "--params", "/dev/zero", "-o", "/tmp/never-\(getpid()).png"],
                timeout: .seconds(60))
            #expect(run.status == 1)
            #expect(run.output.contains("over 16 MiB"), "\(run.output)")
        }

        @Test func listingPluginsBesideAFifoDoesNotBlock() async throws {
            let folder = temporaryFolder("fifo-plugins")
            defer { removeTree(folder) }
            mkdir("\(folder)/fifo", 0o755)
            mkfifo("\(folder)/fifo/plugin.json", 0o644)
            let run = try await runCommand(builtExecutable("offload"), ["plugins", "list", "--plugins", folder], timeout: .seconds(30))
            #expect(run.status == 0)
            #expect(run.output.contains("not a regular file"), "\(run.output)")
            // A plugin folder that is a file, not a folder, is said so, not "it holds none".
            writeFile("\(folder)/file", "x")
            let broken = try await runCommand(builtExecutable("offload"), ["plugins", "list", "--plugins", "\(folder)/file"], timeout: .seconds(30))
            #expect(broken.status == 1)
            #expect(broken.output.contains("cannot read the plugin folder"), "\(broken.output)")
        }
    }
}
