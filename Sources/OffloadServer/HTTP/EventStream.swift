import HTTPTypes
import Hummingbird
import NIOCore
import Offload
import ServiceLifecycle

/// Server-sent events (`text/event-stream`): `id:`, `event:` and one `data:` line of JSON each,
/// a comment every 15 s so that proxies keep the connection, and the end of the stream when the
/// service shuts down.
///
/// Every stream is a ``BoundedStream``: a client that reads slower than events come is sent a
/// last event, `overflow`, once it is further behind than the stream's bounds, and the stream
/// ends (a client that does not read at all is closed by the connection's send timeout).
enum EventStream {
    /// One event, written out once: its bytes are what the stream's bound counts.
    struct Message: Sendable {
        let bytes: [UInt8]

        init(id: Int?, event: String, data: JSONValue) {
            var out: [UInt8] = []
            if let id { out += Array("id: \(id)\n".utf8) }
            out += Array("event: \(event)\ndata: ".utf8)
            JSONWriter.write(data, into: &out)
            out += [0x0A, 0x0A]
            bytes = out
        }
    }

    static let keepAlive: Duration = .seconds(15)

    /// A stream of messages within `limits`.
    static func messages(_ limits: StreamLimits) -> BoundedStream<Message> {
        BoundedStream(maxCount: limits.maxEvents, maxBytes: limits.maxBytes)
    }

    static func response(_ messages: BoundedStream<Message>) -> Response {
        let body = ResponseBody { writer in
            defer { messages.end() }
            try await withGracefulShutdownHandler {
                // The first bytes at once: the client then knows the stream is open.
                try await writer.write(ByteBuffer(bytes: Array(": stream open\n\n".utf8)))
                reading: while true {
                    switch await messages.next(timeout: keepAlive) {
                    case .element(let message): try await writer.write(ByteBuffer(bytes: message.bytes))
                    case .timedOut: try await writer.write(ByteBuffer(bytes: Array(": keep-alive\n\n".utf8)))
                    case .overflowed:
                        let notice = Message(
                            id: nil, event: "overflow",
                            data: .object([
                                (
                                    "message",
                                    .string(
                                        "this reader fell more than \(messages.maxCount) events or \(messages.maxBytes) bytes behind; reconnect and read the current state"
                                    )
                                )
                            ]))
                        try await writer.write(ByteBuffer(bytes: notice.bytes))
                        break reading
                    case .finished: break reading
                    }
                }
            } onGracefulShutdown: {
                messages.finish()
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                .offloadAccelBuffering: "no"
            ], body: body)
    }

    /// Moves what `source` gives into `target`, as `transform` makes it (`nil`: skipped), until
    /// either ends; the source's overflow becomes the target's. Runs in a task the target's end
    /// cancels.
    static func relay<Element: Sendable>(
        _ source: BoundedStream<Element>, into target: BoundedStream<Message>,
        _ transform: @escaping @Sendable (Element) -> Message?
    ) {
        let task = Task {
            defer { source.end() }
            relaying: while !target.isEnded {
                switch await source.next(timeout: .seconds(3_600)) {
                case .element(let element):
                    if let message = transform(element) { target.push(message, bytes: message.bytes.count) }
                case .timedOut: continue
                case .overflowed:
                    target.overflow()
                    break relaying
                case .finished:
                    target.finish()
                    break relaying
                }
            }
        }
        target.onTermination { task.cancel() }
    }
}
