#if canImport(Glibc)
import Glibc
#endif
import Offload

/// The chaos suite's hostile-input figures, through `offload run` as users meet it: good jobs
/// with hostile ones mixed in, and how long after their deadline slow built-in jobs let their
/// thread go.
extension ChaosSuite {
    /// Hostile lines, each with the code it must end with (`nil`: it completes).
    static func hostileLines() -> [(line: String, code: String?)] {
        let layer = #"{"type":"image","src":"big.png","x":0,"y":0,"width":64,"height":64}"#
        let keys = "[" + (0..<3_000).map { #"{"k":"k\#($0)","v":1}"# }.joined(separator: ",") + "]"
        return [
            (
                #"{"kind":"data","payload":{"input":[{"a":1}],"pipeline":[{"op":"transform","fields":[{"target":"b","type":"calculation","expr":"\#(String(repeating: "(", count: 8_000))a\#(String(repeating: ")", count: 8_000))"}]}]}}"#,
                "invalidPayload"
            ),
            (
                #"{"kind":"data","payload":{"input":[{"a":1}],"pipeline":[{"op":"transform","fields":[{"target":"b","type":"calculation","expr":"\#(String(repeating: "(", count: 2_000))a\#(String(repeating: ")", count: 2_000))"}]}]}}"#,
                "invalidPayload"
            ),
            (
                #"{"kind":"analytics","payload":{"events":[{"eventType":"view","timestamp":1e300}],"aggregate":{"granularity":"hour","metrics":[{"fn":"count","as":"n"}]}}}"#,
                "invalidPayload"
            ),
            (#"{"kind":"plugin","payload":{"pluginId":"deep","operation":"transform","input":{}}}"#, "invalidPlugin"),
            (
                #"{"kind":"image","payload":{"params":{"title":"x","layers":[\#(Array(repeating: layer, count: 150).joined(separator: ","))]}}}"#,
                "resourceLimitExceeded"
            ),
            (
                #"{"kind":"data","payload":{"input":\#(keys),"pipeline":[{"op":"group","by":["k"],"aggregates":[{"fn":"count","as":"n"}]}]}}"#,
                "resourceLimitExceeded"
            ),
            (
                #"{"kind":"data","timeoutMs":1000,"payload":{"input":[{"s":"\#(String(repeating: "a", count: 40))b"}],"pipeline":[{"op":"filter","where":{"field":"s","cmp":"regex","value":"(a+)+$"}}]}}"#,
                nil
            ),
            (#"{"kind":"debug.echo","runAt":"2099-01-01T00:00:00Z"}"#, "invalidPayload"),
            (#"{"kind":"debug.echo","payload":{"pad":"\#(String(repeating: "p", count: 1_500_000))"}}"#, "resourceLimitExceeded"),
            (#"{"kind":"debug.echo","payload":\#(String(repeating: "[", count: 600))\#(String(repeating: "]", count: 600))}"#, "invalidPayload"),
            (#"{"kind":"data","payload":{"input":{"path":"/etc/passwd"},"pipeline":[]}}"#, "invalidPayload"),
            (
                #"{"kind":"data","payload":{"input":[{"a":1e308}],"pipeline":[{"op":"transform","fields":[{"target":"b","type":"numberFormat","source":"a"}]}]}}"#,
                nil
            ),
            (
                #"{"kind":"image","timeoutMs":300,"payload":{"dimensions":{"width":4096,"height":2304},"params":{"title":"blur"},"filters":[\#(Array(repeating: #"{"type":"blur","radius":60}"#, count: 30).joined(separator: ","))]}}"#,
                "timedOut"
            )
        ]
    }

    /// A folder with what the hostile lines name: a 4096×2304 PNG and a 10,000-deep WAT plugin.
    func hostileFixtures() async throws -> String {
        let folder = "/tmp/offload-chaos-hostile-\(getpid())"
        mkdir(folder, 0o755)
        mkdir("\(folder)/plugins", 0o755)
        mkdir("\(folder)/plugins/deep", 0o755)
        mkdir("\(folder)/plugins/fifo", 0o755)
        mkfifo("\(folder)/plugins/fifo/plugin.json", 0o644)
        try writeFile("\(folder)/plugins/deep/plugin.json", #"{"id":"deep","version":"1.0.0","module":"deep.wat","operations":["transform"]}"#)
        try writeFile(
            "\(folder)/plugins/deep/deep.wat",
            #"(module (func (export "transform") (param i32 i32) (result i64) "#
                + String(repeating: "(block ", count: 10_000) + String(repeating: ")", count: 10_000) + " i64.const 0))")
        let render = try Spawned(cli, ["render", "--title", "Big", "--width", "4096", "--height", "2304", "-o", "\(folder)/big.png"])
        guard render.reap() == 0 else { throw BenchmarkError("offload render failed") }
        return folder
    }

    /// `good` echo jobs with `hostile` hostile lines spread among them, through `offload run` in
    /// `isolation`: the good jobs completed, the hostile ones ended with their code, none lost.
    func hostileMix(isolation: String, good: Int, hostile: Int, folder: String) async throws {
        let set = Self.hostileLines()
        var lines: [String] = []
        var expected: [String: String?] = [:]
        let every = max(1, good / max(hostile, 1))
        var made = 0
        for index in 0..<good {
            lines.append(#"{"id":"g\#(index)","kind":"debug.echo","payload":{"i":\#(index)}}"#)
            if index % every == every - 1 && made < hostile {
                let (line, code) = set[made % set.count]
                let id = "h\(made)"
                lines.append(#"{"id":"\#(id)","# + line.dropFirst())
                expected[id] = code
                // A line that is not JSON has its line number for id.
                expected[String(lines.count)] = code
                made += 1
            }
        }
        let jobFile = "\(folder)/mix-\(isolation).jsonl"
        try writeFile(jobFile, lines.joined(separator: "\n") + "\n")
        let out = "\(folder)/out-\(isolation)"
        let start = ContinuousClock.now
        let host = try Spawned(
            cli,
            [
                "run", jobFile, "--isolation", isolation, "--workers", "2", "--plugins", "\(folder)/plugins",
                "--out", out, "--quiet", "--limit", "groups=1000", "--limit", "messageBytes=1000000"
            ])
        let status = host.reap()
        let elapsed = ContinuousClock.now - start
        var (goodCompleted, typed, wrong, seen) = (0, 0, 0, 0)
        for line in ProcFS.lines("\(out)/results.jsonl") {
            guard let result = try? JSONValue(parsing: String(line)), let id = result["id"]?.stringValue else { continue }
            seen += 1
            if id.hasPrefix("g") {
                if result["status"] == .string("completed") { goodCompleted += 1 }
            } else if let code = expected[id] {
                if code == result["error"]?["code"]?.stringValue && (code != nil) == (result["status"] == .string("failed")) {
                    typed += 1
                } else {
                    wrong += 1
                }
            }
        }
        let lost = lines.count - seen
        Report.line([
            ("suite", .string("chaos")), ("figure", .string("hostile mix")), ("isolation", .string(isolation)), ("goodJobs", .int(good)),
            ("hostileJobs", .int(made)), ("goodCompleted", .int(goodCompleted)), ("hostileAsExpected", .int(typed)),
            ("hostileOtherwise", .int(wrong)), ("lost", .int(lost)), ("exitStatus", .int(Int(status))), ("seconds", .number(elapsed.secondsValue))
        ])
        Report.summary(
            suite: "chaos",
            figure:
                "offload run, \(isolation) isolation: \(good) good jobs with \(made) hostile ones mixed in: good jobs completed (\(typed) hostile ended as expected, \(wrong) otherwise, \(lost) lost, exit \(status))",
            ours: Double(goodCompleted), peer: nil, ratio: nil, goal: "\(good) completed, host alive (exit 0), no result lost", unit: "jobs")
    }

    /// Slow jobs of each built-in kind with a 50 ms timeout on one thread worker: how long past
    /// its deadline each let the thread go (a job the pool must give up on shows the grace period).
    func stopLatency(folder: String) async throws {
        let make = try Spawned(
            "/bin/sh",
            [
                "-c",
                """
                cd \(folder) &&
                awk 'BEGIN { for (i = 0; i < 400000; i++) printf "{\\"i\\":%d,\\"s\\":\\"r%d\\"}\\n", (i * 7919) % 400000, i }' > records.jsonl &&
                awk 'BEGIN { for (i = 0; i < 400000; i++) printf "{\\"eventType\\":\\"e%d\\",\\"timestamp\\":%d,\\"sessionId\\":\\"s%d\\",\\"durationMs\\":%d}\\n", i % 50, 1700000000 + i, i, i % 900 }' > events.jsonl &&
                awk 'BEGIN { s = "ab"; while (length(s) < 600000) s = s s; for (i = 0; i < 40; i++) printf "{\\"s\\":\\"%d%s\\"}\\n", i, s }' > long.jsonl
                """
            ])
        guard make.reap() == 0 else { throw BenchmarkError("generating the inputs failed") }
        let slow: [(kind: String, line: String)] = [
            (
                "image (30 blurs)",
                #"{"kind":"image","payload":{"dimensions":{"width":4096,"height":2304},"params":{"title":"blur"},"filters":[\#(Array(repeating: #"{"type":"blur","radius":60}"#, count: 30).joined(separator: ","))]}}"#
            ),
            (
                "image (WebP encode)",
                #"{"kind":"image","payload":{"dimensions":{"width":4096,"height":2304},"outputFormat":"webp","quality":100,"params":{"title":"webp"},"filters":[{"type":"sharpen","strength":1}]}}"#
            ),
            (
                "image (90-frame GIF)",
                #"{"kind":"image","payload":{"outputFormat":"gif","frameRate":15,"animations":[{"type":"fadeIn","durationMs":5900}],"params":{"title":"gif"}}}"#
            ),
            ("data (sort)", #"{"kind":"data","payload":{"input":{"path":"records.jsonl"},"pipeline":[{"op":"sort","by":[{"field":"i"}]}]}}"#),
            (
                "data (regexReplace)",
                #"{"kind":"data","payload":{"input":{"path":"long.jsonl"},"pipeline":[{"op":"transform","fields":[{"target":"t","type":"regexReplace","source":"s","pattern":"(a|b)*c","replacement":""}]}]}}"#
            ),
            (
                "analytics",
                #"{"kind":"analytics","payload":{"events":{"path":"events.jsonl"},"aggregate":{"groupBy":["eventType"],"granularity":"minute","metrics":[{"fn":"percentile","field":"durationMs","p":95,"as":"p95"},{"fn":"unique","field":"sessionId","as":"sessions"}]}}}"#
            ),
            (
                "plugin (spinning)",
                #"{"kind":"plugin","payload":{"pluginId":"hostile-spin","operation":"transform","input":{},"context":{"fuel":100000000000,"timeoutMs":60000}}}"#
            )
        ]
        var lines: [String] = []
        for (index, job) in slow.enumerated() {
            lines.append(#"{"id":"s\#(index)","timeoutMs":50,"# + job.line.dropFirst())
            lines.append(#"{"id":"after\#(index)","kind":"debug.echo"}"#)
        }
        try writeFile("\(folder)/slow.jsonl", lines.joined(separator: "\n") + "\n")
        let host = try Spawned(
            cli,
            [
                "run", "\(folder)/slow.jsonl", "--isolation", "thread", "--workers", "1", "--plugins", "examples/plugins",
                "--out", "\(folder)/out-slow", "--quiet", "--limit", "heldRecords=10000000"
            ])
        _ = host.reap()
        var results: [String: JSONValue] = [:]
        for line in ProcFS.lines("\(folder)/out-slow/results.jsonl") {
            if let result = try? JSONValue(parsing: String(line)), let id = result["id"]?.stringValue { results[id] = result }
        }
        var worst = 0.0
        for (index, job) in slow.enumerated() {
            let result = results["s\(index)"]
            let late = (result?["runMs"]?.doubleValue ?? .infinity) - 50
            worst = max(worst, late)
            Report.line([
                ("suite", .string("chaos")), ("figure", .string("stop at the deadline, thread isolation")), ("kind", .string(job.kind)),
                ("code", .string(result?["error"]?["code"]?.stringValue ?? "completed")), ("msPastDeadline", .number(late))
            ])
        }
        Report.summary(
            suite: "chaos", figure: "slow jobs of every built-in kind, 50 ms timeout, one thread worker: worst stop past the deadline",
            ours: worst, peer: nil, ratio: nil, goal: "<= 100", unit: "ms")
    }
}
