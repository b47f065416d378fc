import DequeModule
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
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextWaiter: UInt64 = 0
        var onTermination: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init(maxCount: Int = 1_000, maxBytes: Int = 1 << 20) {
        self.maxCount = max(1, maxCount)
        self.maxBytes = max(1, maxBytes)
    }

    /// Adds an item of `bytes` bytes for the reader; past the bounds the stream overflows
    /// instead. Ignored once the stream has ended.
    public func push(_ element: Element, bytes: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.overflowed && !state.finished else { return nil }
            if state.items.count >= maxCount || state.bytes + bytes > maxBytes {
                state.overflowed = true
                state.items.removeAll()
                state.bytes = 0
            } else {
                state.items.append((element, bytes))
                state.bytes += bytes
            }
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume()
    }

    /// Ends the stream once the reader has read what is held.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume()
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
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.overflowed = true
            state.items.removeAll()
            state.bytes = 0
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume()
    }

    /// The reader is gone: the stream ends, its items are dropped and the termination action runs.
    public func end() {
        let (actions, waiter) = state.withLock { state -> ([@Sendable () -> Void], CheckedContinuation<Void, Never>?) in
            state.finished = true
            state.left = true
            state.items.removeAll()
            state.bytes = 0
            defer {
                state.onTermination = []
                state.waiter = nil
            }
            return (state.onTermination, state.waiter?.continuation)
        }
        waiter?.resume()
        for action in actions { action() }
    }

    /// The next item, or how the stream ended, or ``Next/timedOut`` after `timeout`.
    public func next(timeout: Duration) async -> Next {
        if let ready = take() { return ready }
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.wake(id)
            }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let now = self.state.withLock { state -> Bool in
                            if !state.items.isEmpty || state.overflowed || state.finished || Task.isCancelled { return true }
                            state.waiter = (id, continuation)
                            return false
                        }
                        if now { continuation.resume() }
                    }
                } onCancel: {
                    self.wake(id)
                }
            }
            await group.next()
            group.cancelAll()
            self.wake(id)
        }
        return take() ?? .timedOut
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

    private func wake(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }
}
