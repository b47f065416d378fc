#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COffloadSystem
import Synchronization

/// Writes frames to a descriptor, whole, from any thread.
final class FrameWriter: Sendable {
    private let fd: Int32
    /// How long a write may wait for the reader to make room (`nil`: for ever).
    private let stallLimit: Duration?
    private let lock = Mutex<State>(State())

    private struct State {
        var buffer: [UInt8] = []
        var closed = false
    }

    /// - Parameter stallLimit: with a non-blocking `fd`, the longest a send waits for room; a
    ///   send that gives up returns `false` (the stream is then unusable).
    init(fd: Int32, stallLimit: Duration? = nil) {
        self.fd = fd
        self.stallLimit = stallLimit
    }

    /// Sends `messages` in one write; `false` when the other side is gone.
    @discardableResult
    func send(_ messages: WireMessage...) -> Bool { send(contentsOf: messages) == .written }

    /// Sends `messages` in one write.
    @discardableResult
    func send(contentsOf messages: [WireMessage]) -> WriteOutcome { send { messages } }

    /// Sends in one write the messages `make` gives, calling it under the writer's lock: so that
    /// what it records, and what it chooses to send, is in the order of the frames on the wire.
    @discardableResult
    func send(_ make: () -> [WireMessage]) -> WriteOutcome {
        lock.withLock { state in
            let messages = make()
            guard !state.closed else { return .failed }
            guard !messages.isEmpty else { return .written }
            state.buffer.removeAll(keepingCapacity: true)
            for message in messages { message.encode(into: &state.buffer) }
            return writeAll(state.buffer)
        }
    }

    /// Closes the descriptor; later sends return `false` (and never reach a reused descriptor).
    func close() {
        lock.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            closeDescriptor(fd)
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> WriteOutcome {
        let deadline = stallLimit.map { ContinuousClock.now + $0 }
        return bytes.withUnsafeBytes { writeFully(fd, $0, deadline: deadline) }
    }
}

/// Reads frames from a descriptor, on one thread.
struct FrameReader: ~Copyable {
    enum Next {
        case message(WireMessage)
        /// Nothing arrived within the timeout.
        case quiet
        /// The other side closed its end after a whole frame.
        case end
    }

    private let fd: Int32
    private var decoder: FrameDecoder
    private let chunk: UnsafeMutableRawBufferPointer

    /// - Parameter fd: a descriptor in non-blocking mode when reads are to time out.
    init(fd: Int32, maxFrameBytes: Int) {
        self.fd = fd
        self.decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        self.chunk = .allocate(byteCount: 64 << 10, alignment: 16)
    }

    deinit { chunk.deallocate() }

    /// The largest frame accepted.
    var maxFrameBytes: Int {
        get { decoder.maxFrameBytes }
        set { decoder.maxFrameBytes = newValue }
    }

    /// The next message already read, without reading more.
    mutating func buffered() throws(WireError) -> WireMessage? { try decoder.next() }

    /// The next message; waits at most `timeout` for bytes (forever when `nil`).
    mutating func next(timeout: Duration? = nil) throws(WireError) -> Next {
        while true {
            if let message = try decoder.next() { return .message(message) }
            let count = read(fd, chunk.baseAddress, chunk.count)
            if count > 0 {
                decoder.append(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
                continue
            }
            if count == 0 {
                try decoder.checkComplete()
                return .end
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let milliseconds = timeout.map { Int32(clamping: max(0, Int64(($0.nanoseconds + 999_999) / 1_000_000))) } ?? -1
                let ready = poll(&entry, 1, milliseconds)
                if ready == 0 { return .quiet }
            default:
                // A read error on a pipe means the other side is unusable: treat it as the end.
                try decoder.checkComplete()
                return .end
            }
        }
    }
}
