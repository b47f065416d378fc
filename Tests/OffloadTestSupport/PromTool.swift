import Foundation

/// Checks a Prometheus exposition with Prometheus's own linter, `promtool check metrics`
/// (Debian's `prometheus` package, which scripts/bootstrap installs). Returns what it printed:
/// nothing when every family follows the conventions. A missing promtool is an error, never a
/// pass.
public func promtoolProblems(_ exposition: String) async throws -> String {
    let file = NSTemporaryDirectory() + "offload-metrics-\(UUID().uuidString).txt"
    try exposition.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    let script =
        "command -v promtool >/dev/null || { echo 'promtool is not installed (scripts/bootstrap installs it)'; exit 2; }; promtool check metrics < \"$1\""
    let run = try await runCommand("/bin/sh", ["-c", script, "sh", file], timeout: .seconds(30))
    return run.status == 0 ? "" : "promtool ended with status \(run.status): \(run.output)"
}
