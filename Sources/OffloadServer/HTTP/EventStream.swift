import HTTPTypes
import Hummingbird
import NIOCore
import Offload
import ServiceLifecycle

/// Server-sent events (`text/event-stream`): `id:`, `event:` and one `data:` line of JSON each,
/// a comment every 15 s so that proxies keep the connection, and the end of the stream when the
/// service shuts down.
enum EventStream {
    struct Message: Sendable {
        var id: Int?
        var event: String
        var data: JSONValue

        var bytes: [UInt8] {
            var out: [UInt8] = []
            if let id { out += Array("id: \(id)\n".utf8) }
            out += Array("event: \(event)\ndata: ".utf8)
            JSONWriter.write(data, into: &out)
            out += [0x0A, 0x0A]
            return out
        }
    }

    static let keepAlive: Duration = .seconds(15)

    static func response(_ messages: AsyncStream<Message>) -> Response {
        let body = ResponseBody { writer in
            let (items, end) = withBeats(messages)
            try await withGracefulShutdownHandler {
                // The first bytes at once: the client then knows the stream is open.
                try await writer.write(ByteBuffer(bytes: Array(": stream open\n\n".utf8)))
                for await item in items {
                    switch item {
                    case .message(let message): try await writer.write(ByteBuffer(bytes: message.bytes))
                    case .beat: try await writer.write(ByteBuffer(bytes: Array(": keep-alive\n\n".utf8)))
                    }
                }
            } onGracefulShutdown: {
                end.finish()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                                              .offloadAccelBuffering: "no"], body: body)
    }

    private enum Item: Sendable {
        case message(Message)
        case beat
    }

    /// The messages, with a beat after each quiet `keepAlive`; ends with the messages.
    private static func withBeats(_ messages: AsyncStream<Message>) -> (AsyncStream<Item>, AsyncStream<Item>.Continuation) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self)
        let forward = Task {
            for await message in messages { continuation.yield(.message(message)) }
            continuation.finish()
        }
        let beat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: keepAlive)
                continuation.yield(.beat)
            }
        }
        continuation.onTermination = { _ in
            forward.cancel()
            beat.cancel()
        }
        return (stream, continuation)
    }
}
