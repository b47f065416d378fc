#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

extension CommandLineTests {
    /// `offload run examples/priorities.jsonl --events FILE`, one worker and two, in both
    /// isolations: the file's times never go back, and each job's lines come queued, started,
    /// progress…, then its end.
    @Suite struct EventsFileTests {
        @Test(arguments: ["thread", "process"])
        func eventsFileIsInCausalOrder(isolation: String) async throws {
            for workers in ["1", "2"] {
                let folder = temporaryFolder("events-\(isolation)-\(workers)")
                defer { removeTree(folder) }
                let run = try await runCommand(
                    builtExecutable("offload"),
                    [
                        "run", "\(PluginJobFileTests.root)/examples/priorities.jsonl", "--isolation", isolation, "--workers", workers,
                        "--events", "\(folder)/events.jsonl", "--out", "\(folder)/out", "--quiet"
                    ])
                #expect(run.status == 0, "\(run.output)")
                let lines = String(decoding: readFile("\(folder)/events.jsonl"), as: UTF8.self).split(separator: "\n")
                #expect(lines.count > 600)
                var last = -1.0
                var phase: [String: String] = [:]
                var problems: [String] = []
                for (number, line) in lines.enumerated() {
                    let event = try JSONParser.parse(Array(line.utf8))
                    guard let name = event["event"]?.stringValue, let time = event["t"]?.doubleValue else {
                        problems.append("line \(number + 1) has no event or t")
                        continue
                    }
                    if time < last { problems.append("line \(number + 1): t \(time) after \(last)") }
                    last = max(last, time)
                    guard let job = event["job"]?.stringValue, event["kind"] != nil else { continue }
                    let before = phase[job]
                    // The steps of a job's life in the one vocabulary (`JobEvent`), in an order they can come in.
                    let allowed: Bool =
                        switch name {
                        case "queued", "scheduled": before == nil
                        case "started": before == "queued" || before == "scheduled" || before == "retryScheduled" || before == "preempted"
                        case "progress", "stopRequested": before == "started" || before == "progress" || before == "stopRequested"
                        default: before != nil && before != "ended"
                        }
                    if !allowed { problems.append("line \(number + 1): \(name) of \(job) after \(before ?? "nothing")") }
                    phase[job] =
                        switch name {
                        case "completed", "failed", "cancelled": "ended"
                        default: name
                        }
                }
                #expect(problems.isEmpty, "\(workers) workers: \(problems.prefix(5))")
                #expect(phase.count == 300 && phase.values.allSatisfy { $0 == "ended" })
            }
        }
    }
}
