import DequeModule
import Offload
import Synchronization

/// Items from producers to one reader, held up to a count and a number of bytes: a reader that
/// falls behind past either bound is told so once (``Next/overflowed``) and what it had not read
/// is dropped at once, so a stalled reader holds at most the bound.
///
/// The job stores hand these to the event-stream routes: each stream's memory is bounded
/// however slowly its client reads.
public final class BoundedStream<Element: Sendable>: Sendable {
    /// What ``next(timeout:)`` found.
    public enum Next: Sendable {
        case element(Element)
        /// The reader fell behind past the bound; nothing more comes.
        case overflowed
        /// The producers finished; nothing more comes.
        case finished
        /// Nothing came within the timeout.
        case timedOut
    }

    /// The most items held for the reader.
    public let maxCount: Int
    /// The most bytes (as the producers count them) held for the reader.
    public let maxBytes: Int

    private struct State {
        var items: Deque<(element: Element, bytes: Int)> = []
        var bytes = 0
        var overflowed = false
        var finished = false
        /// The reader called ``end()``.
        var left = false
        var onTermination: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())
    /// Wakes the reader: signalled on every push and end (kept when it does not wait yet).
    private let arrived = Wakeup()

    public init(maxCount: Int = 1_000, maxBytes: Int = 1 << 20) {
        self.maxCount = max(1, maxCount)
        self.maxBytes = max(1, maxBytes)
    }

    /// Adds an item of `bytes` bytes for the reader; past the bounds the stream overflows
    /// instead. Ignored once the stream has ended.
    public func push(_ element: Element, bytes: Int) {
        let pushed = state.withLock { state -> Bool in
            guard !state.overflowed && !state.finished else { return false }
            if state.items.count >= maxCount || state.bytes + bytes > maxBytes {
                state.overflowed = true
                state.items.removeAll()
                state.bytes = 0
            } else {
                state.items.append((element, bytes))
                state.bytes += bytes
            }
            return true
        }
        if pushed { arrived.signal() }
    }

    /// Ends the stream once the reader has read what is held.
    public func finish() {
        state.withLock { $0.finished = true }
        arrived.signal()
    }

    /// Whether the stream has ended (finished, overflowed or left by its reader).
    public var isEnded: Bool { state.withLock { $0.finished || $0.overflowed } }

    /// Runs `action` once, when the reader leaves (``end()``): the producers stop there. At
    /// once when the reader has left already.
    public func onTermination(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.left { return true }
            state.onTermination.append(action)
            return false
        }
        if now { action() }
    }

    /// Ends the stream as if its reader had fallen behind (a source it relays did).
    public func overflow() {
        state.withLock { state in
            state.overflowed = true
            state.items.removeAll()
            state.bytes = 0
        }
        arrived.signal()
    }

    /// The reader is gone: the stream ends, its items are dropped and the termination action runs.
    public func end() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            state.finished = true
            state.left = true
            state.items.removeAll()
            state.bytes = 0
            defer { state.onTermination = [] }
            return state.onTermination
        }
        arrived.signal()
        for action in actions { action() }
    }

    /// The next item, or how the stream ended, or ``Next/timedOut`` after `timeout`. One reader.
    public func next(timeout: Duration) async -> Next {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let ready = take() { return ready }
            // A wake-up kept from a push already read returns at once: wait again.
            let left = deadline - .now
            guard left > .zero, !Task.isCancelled else { return .timedOut }
            await arrived.wait(timeout: left)
        }
    }

    private func take() -> Next? {
        state.withLock { state -> Next? in
            if state.overflowed { return .overflowed }
            if let first = state.items.popFirst() {
                state.bytes -= first.bytes
                return .element(first.element)
            }
            return state.finished ? .finished : nil
        }
    }
}
