#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import Offload

/// A response read off a real socket by ``HTTPClient``.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first header of that name (any case).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: JSONValue? { try? JSONParser.parse(body) }
}

/// One server-sent event.
public struct ServerSentEvent: Sendable {
    public var id: String?
    public var event: String
    public var data: String
    public var json: JSONValue? { try? JSONParser.parse(Array(data.utf8)) }
}

/// HTTP/1.1 over a TCP socket to 127.0.0.1, one request a connection: what a test needs to
/// speak to a running `offload serve` as any client would. It never blocks a thread: it polls
/// and sleeps.
public enum HTTPClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static func request(
        _ method: String, port: Int, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> HTTPReply {
        var result: HTTPReply?
        try await exchange(method, port: port, path, headers: headers, body: body, timeout: timeout) { reply, complete in
            result = reply
            return !complete
        }
        guard let result else { throw Failure(description: "\(method) \(path): no response") }
        return result
    }

    /// Opens an event stream and reads events until `enough` says so, the stream ends, or
    /// `timeout` passes; returns the response's head and the events read.
    public static func events(
        port: Int, _ path: String, headers: [String: String] = [:], timeout: Duration = .seconds(30),
        until enough: @escaping ([ServerSentEvent]) -> Bool = { _ in false }
    ) async throws -> (HTTPReply, [ServerSentEvent]) {
        var head: HTTPReply?
        var events: [ServerSentEvent] = []
        try await exchange(
            "GET", port: port, path, headers: headers.merging(["Accept": "text/event-stream"]) { $1 }, body: nil,
            timeout: timeout, streaming: true
        ) { reply, complete in
            head = reply
            events = parseEvents(reply.body)
            return !complete && !enough(events)
        }
        guard var head else { throw Failure(description: "GET \(path): no response") }
        head.body = []
        return (head, events)
    }

    public static func parseEvents(_ body: [UInt8]) -> [ServerSentEvent] {
        let text = String(decoding: body, as: UTF8.self)
        var events: [ServerSentEvent] = []
        for block in text.components(separatedBy: "\n\n").dropLast() {
            var event = ServerSentEvent(id: nil, event: "message", data: "")
            var hasData = false
            for line in block.split(separator: "\n") where !line.hasPrefix(":") {
                if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event.event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    event.data += (hasData ? "\n" : "") + line.dropFirst(6)
                    hasData = true
                }
            }
            if hasData { events.append(event) }
        }
        return events
    }

    /// Sends the request and reads the response; `progress` sees the reply so far (body decoded)
    /// after each read and whether it is complete, and says whether to read on.
    private static func exchange(
        _ method: String, port: Int, _ path: String, headers: [String: String], body: [UInt8]?,
        timeout: Duration, streaming: Bool = false,
        progress: (HTTPReply, Bool) -> Bool
    ) async throws {
        let connection = try RawSocket(port: port)
        let fd = connection.fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var outgoing = Array(head.utf8) + (body ?? [])
        let deadline = ContinuousClock.now + timeout
        while !outgoing.isEmpty {
            let sent = outgoing.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                outgoing.removeFirst(sent)
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try await pause(until: deadline, method, path)
            } else {
                // The server answered (413, 401) and closed before taking the whole body: read its answer.
                break
            }
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var ended = false
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count > 0 {
                received += chunk[0..<count]
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                ended = true
            }
            if let (reply, complete) = parse(received, method: method) {
                let done = complete || ended
                if !progress(reply, done) || done { return }
            } else if ended {
                throw Failure(description: "\(method) \(path): the connection closed before a response (\(received.count) bytes)")
            }
            if count <= 0 && !ended { try await pause(until: deadline, method, path, streaming: streaming) }
            if streaming && ContinuousClock.now > deadline { return }
        }
    }

    private static func pause(until deadline: ContinuousClock.Instant, _ method: String, _ path: String, streaming: Bool = false) async throws {
        if ContinuousClock.now > deadline && !streaming { throw Failure(description: "\(method) \(path): no complete response in time") }
        try await Task.sleep(for: .milliseconds(2))
    }

    /// The reply in `bytes` once its head is in, and whether its body is complete.
    static func parse(_ bytes: [UInt8], method: String) -> (HTTPReply, Bool)? {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingPrefix(" ").description)
        }
        var reply = HTTPReply(status: status, headers: headers, body: [])
        let rest = Array(bytes[end.upperBound...])
        if method == "HEAD" || status == 304 || status == 204 { return (reply, true) }
        if let length = reply.header("Content-Length").flatMap({ Int($0) }) {
            reply.body = Array(rest.prefix(length))
            return (reply, rest.count >= length)
        }
        if reply.header("Transfer-Encoding")?.lowercased() == "chunked" {
            var index = 0
            while let lineEnd = rest[index...].firstRange(of: [13, 10]) {
                let size = Int(String(decoding: rest[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                if size == 0 { return (reply, true) }
                guard rest.count >= lineEnd.upperBound + size + 2 else { break }
                reply.body += rest[lineEnd.upperBound..<(lineEnd.upperBound + size)]
                index = lineEnd.upperBound + size + 2
            }
            return (reply, false)
        }
        reply.body = rest
        return (reply, false)
    }
}

extension JSONValue {
    /// The elements of an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The element at `index` of an array.
    public subscript(index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
