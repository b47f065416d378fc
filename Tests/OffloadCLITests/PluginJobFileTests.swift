#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// `offload run examples/plugins.jsonl`: the example plugins complete and each hostile plugin
/// fails under its own code, in thread and in process isolation.
@Suite struct PluginJobFileTests {
    static let expected: [String: String] = [
        "hostile-fuel": "cpuLimitExceeded", "hostile-deadline": "timedOut", "hostile-grow": "memoryLimitExceeded",
        "hostile-huge-memory": "memoryLimitExceeded", "hostile-trap": "pluginTrapped", "hostile-recursion": "pluginTrapped",
        "hostile-bad-pointer": "invalidPluginOutput", "hostile-not-json": "invalidPluginOutput", "hostile-bad-log": "invalidPluginOutput",
        "hostile-missing-export": "invalidPlugin", "hostile-bad-checksum": "invalidPlugin", "hostile-malformed": "invalidPlugin",
        "hostile-bad-manifest": "invalidPlugin", "hostile-wasi": "permissionDenied", "hostile-not-found": "pluginNotFound"
    ]

    /// This package's folder.
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    @Test(arguments: ["thread", "process"])
    func examplePluginsCompleteAndHostileOnesFailUnderTheirCodes(isolation: String) throws {
        let out = "/tmp/offload-plugin-run-\(getpid())-\(isolation)"
        let host = try ChildProcess.spawn(
            executable: builtExecutable("offload"),
            arguments: [
                "run", "\(Self.root)/examples/plugins.jsonl", "--plugins", "\(Self.root)/examples/plugins", "--isolation", isolation,
                "--workers", "2", "--out", out, "--quiet"
            ],
            environment: ["PATH=/usr/bin:/bin"], directory: nil)
        _ = host.waitForExit()
        for fd in [host.toChild, host.fromChild, host.output] { close(fd) }
        let fd = open("\(out)/results.jsonl", O_RDONLY)
        #expect(fd >= 0)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while fd >= 0 {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        close(fd)
        unlink("\(out)/results.jsonl")
        rmdir(out)
        var seen = 0
        for line in bytes.split(separator: 0x0A) {
            let result = try JSONParser.parse(line)
            let id = result["id"]?.stringValue ?? ""
            seen += 1
            if let code = Self.expected[id] {
                #expect(result["status"] == .string("failed") && result["error"]?["code"] == .string(code), "\(id): \(result)")
            } else {
                #expect(result["status"] == .string("completed"), "\(id): \(result)")
            }
        }
        #expect(seen == 23)
    }
}
