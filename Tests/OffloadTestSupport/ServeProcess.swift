#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable public import Offload

/// A running `offload serve` on a free port, in a folder of its own.
public final class ServeProcess: @unchecked Sendable {
    public let child: ChildProcess
    public let port: Int
    public let folder: String
    public let token: String
    /// What it printed up to the line that gave its port.
    public let banner: String

    /// Starts it with `--port 0 --token <token>` (and `--diagnostics`, for the `debug.*` kinds
    /// tests use, unless `diagnostics` is off) and `arguments`, and waits for its line
    /// `listening on http://127.0.0.1:PORT`.
    public static func start(
        _ arguments: [String], token: String = "test-token-0123", directory: String? = nil, diagnostics: Bool = true,
        environment: [String] = [], timeout: Duration = .seconds(60)
    ) async throws -> ServeProcess {
        try await launch(
            builtExecutable("offload"), ["serve", "--port", "0", "--token", token] + (diagnostics ? ["--diagnostics"] : []) + arguments,
            token: token, directory: directory, environment: environment, portAfter: "listening on http://127.0.0.1:", timeout: timeout)
    }

    /// Starts `executable` with `arguments` in `directory` (default: a new temporary folder) and
    /// waits until it prints `marker` followed by its port and a space or a line's end.
    public static func launch(
        _ executable: String, _ arguments: [String], token: String, directory: String? = nil, environment: [String] = [],
        portAfter marker: String, timeout: Duration = .seconds(60)
    ) async throws -> ServeProcess {
        let folder = temporaryFolder("serve")
        let child = try ChildProcess.spawn(
            executable: executable, arguments: arguments, environment: ["PATH=/usr/bin:/bin", "HOME=/tmp"] + environment,
            directory: directory ?? folder)
        close(child.toChild)
        close(child.fromChild)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: child.output, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                let count = read(child.output, &chunk, chunk.count)
                if count <= 0 { break }
                output += chunk[0..<count]
                let text = String(decoding: output, as: UTF8.self)
                if let range = text.range(of: marker) {
                    let digits = text[range.upperBound...].prefix { $0.isNumber }
                    if let port = Int(digits), let after = text[range.upperBound...].dropFirst(digits.count).first, after == " " || after == "\n" {
                        return ServeProcess(child: child, port: port, folder: folder, token: token, banner: text)
                    }
                }
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        kill(child.pid, SIGKILL)
        _ = child.waitForExit()
        throw HTTPClient.Failure(description: "\(executable) did not say its port: \(String(decoding: output, as: UTF8.self))")
    }

    private init(child: ChildProcess, port: Int, folder: String, token: String, banner: String) {
        self.child = child
        self.port = port
        self.folder = folder
        self.token = token
        self.banner = banner
    }

    public var pid: Int32 { child.pid }
    public var authorization: [String: String] { ["Authorization": "Bearer \(token)"] }

    public func get(_ path: String, headers: [String: String]? = nil) async throws -> HTTPReply {
        try await HTTPClient.request("GET", port: port, path, headers: headers ?? authorization)
    }

    public func send(_ method: String, _ path: String, json: String? = nil, headers: [String: String]? = nil) async throws -> HTTPReply {
        var headers = headers ?? authorization
        if json != nil { headers["Content-Type"] = "application/json" }
        return try await HTTPClient.request(method, port: port, path, headers: headers, body: json.map { Array($0.utf8) })
    }

    /// SIGTERM, then waits (by polling) for its exit; returns its status (negative: the signal
    /// that ended it) and what it printed after its banner.
    public func terminate(timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        kill(child.pid, SIGTERM)
        return try await waitForExit(timeout: timeout)
    }

    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        let output = try await readOutput(of: child, killAfter: timeout)
        close(child.output)
        let status: Int32 =
            switch WorkerExit.Status(waitStatus: child.waitForExit()) {
            case .exited(let code): code
            case .signalled(let signal): -signal
            case .unknown: -1000
            }
        removeTree(folder)
        return (status, String(decoding: output, as: UTF8.self))
    }
}
