import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// HTTP/1.1 with the service's connection limits: each connection is registered in a
/// ``ConnectionTable`` (which closes the connection idle the longest past a limit) and timed —
/// a request's head, the pauses in its body, the wait for the next request, and a client that
/// does not read its answer each have a timeout, after which the connection is closed.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let table: ConnectionTable

    /// The bytes a connection may have waiting to be sent before its writer waits.
    static let writeBuffer = ChannelOptions.Types.WriteBufferWaterMark(low: 256 * 1024, high: 512 * 1024)

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let clock = ConnectionClock(table: table, channel: channel)
        do {
            // A whole card (100–200 KB) goes to the socket in one write rather than waiting for
            // writability at NIO's 64 KiB default; a client that stops reading is still closed
            // by the send timeout.
            try channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: Self.writeBuffer)
            try channel.pipeline.syncOperations.addHandler(ConnectionGate(clock: clock), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        // Completed on the channel's event loop, where the clock lives.
        return base.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Between Hummingbird's connection state and the handler that hands requests on: it
            // sees each request's parts and each answer's end.
            let state = try channel.pipeline.syncOperations.handler(type: HTTPConnectionStateHandler.self)
            try channel.pipeline.syncOperations.addHandler(RequestWatcher(clock: clock), position: .after(state))
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 under `table`'s limits and timeouts.
    static func guardedHTTP1(_ table: ConnectionTable) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedHTTP1Channel(base: HTTP1Channel(responder: responder), table: table)
        }
    }
}

/// One connection's timers and where its requests are; used on the connection's event loop only.
final class ConnectionClock {
    private enum Timer { case header, body, idle }

    let table: ConnectionTable
    let limits: ConnectionLimits
    private let channel: any Channel
    /// Requests whose head arrived and whose answer has not ended.
    private var inFlight = 0
    private var readingHead = false
    private var readingBody = false
    private var readTimer: Scheduled<Void>?
    private var sendTimer: Scheduled<Void>?

    init(table: ConnectionTable, channel: any Channel) {
        self.table = table
        self.limits = table.limits
        self.channel = channel
    }

    private var isIdle: Bool { inFlight == 0 && !readingHead && !readingBody }

    /// A new connection: registered (or refused), and given the header timeout for its first bytes.
    func opened() {
        let client = channel.remoteAddress?.ipAddress ?? "unknown"
        guard table.open(channel, client: client) else {
            channel.close(promise: nil)
            return
        }
        arm(.header)
    }

    func closed() {
        readTimer?.cancel()
        sendTimer?.cancel()
        table.close(channel)
    }

    /// Bytes came: past an idle wait, a request's head has begun.
    func bytesArrived() {
        guard !readingHead && !readingBody else { return }
        if isIdle { table.setIdle(channel, false) }
        readingHead = true
        arm(.header)
    }

    func headRead() {
        readingHead = false
        readingBody = true
        inFlight += 1
        arm(.body)
    }

    func bodyPartRead() { arm(.body) }

    func requestRead() {
        readingBody = false
        if readingHead { return }  // the next request's head has begun: its timer runs
        readTimer?.cancel()
        readTimer = nil
    }

    func answerEnded() {
        inFlight = max(0, inFlight - 1)
        guard isIdle else { return }
        table.setIdle(channel, true)
        arm(.idle)
    }

    /// The client stopped reading (the answer waits in memory): it has the send timeout to read again.
    func writability(_ writable: Bool) {
        sendTimer?.cancel()
        sendTimer = nil
        guard !writable else { return }
        let channel = self.channel
        sendTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limits.sendTimeout)) {
            channel.close(promise: nil)
        }
    }

    private func arm(_ timer: Timer) {
        readTimer?.cancel()
        let timeout =
            switch timer {
            case .header: limits.headerTimeout
            case .body: limits.bodyTimeout
            case .idle: limits.idleTimeout
            }
        let channel = self.channel
        readTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            channel.close(promise: nil)
        }
    }
}

/// The first handler of a connection: bytes in, writability, open and close.
final class ConnectionGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let clock: ConnectionClock

    init(clock: ConnectionClock) {
        self.clock = clock
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { clock.opened() }
    }

    func channelActive(context: ChannelHandlerContext) {
        clock.opened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        clock.closed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        clock.bytesArrived()
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clock.writability(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }
}

/// Sees each request's head, body parts and end, and each answer's end.
final class RequestWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let clock: ConnectionClock

    init(clock: ConnectionClock) {
        self.clock = clock
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: clock.headRead()
        case .body: clock.bodyPartRead()
        case .end: clock.requestRead()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { clock.answerEnded() }
        context.write(data, promise: promise)
    }
}
