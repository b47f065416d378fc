import Synchronization

/// Fans pool events out to every subscriber's stream. Costs nothing while nobody listens.
///
/// ``emit(_:)`` is called with the pool's main lock held (so events keep their order); it takes
/// the subscribers' lock and then each stream's own: the main lock always comes first. A stream's
/// termination handler takes only the subscribers' lock.
final class EventBroadcaster: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<PoolEvent>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)
    private let listening = Atomic<Bool>(false)

    /// Whether anyone listens; the pool builds events only then.
    var isListening: Bool { listening.load(ordering: .relaxed) }

    func subscribe(bufferingPolicy: AsyncStream<PoolEvent>.Continuation.BufferingPolicy) -> AsyncStream<PoolEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: PoolEvent.self, bufferingPolicy: bufferingPolicy)
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = continuation }
        listening.store(true, ordering: .relaxed)
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.subscribers.withLock { subscribers in
                subscribers[id] = nil
                self.listening.store(!subscribers.isEmpty, ordering: .relaxed)
            }
        }
        return stream
    }

    func emit(_ events: [PoolEvent]) {
        guard !events.isEmpty else { return }
        let targets = subscribers.withLock { Array($0.values) }
        for target in targets {
            for event in events { target.yield(event) }
        }
    }

    /// Ends every stream (the pool has stopped).
    func finish() {
        let targets = subscribers.withLock { subscribers -> [AsyncStream<PoolEvent>.Continuation] in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        listening.store(false, ordering: .relaxed)
        for target in targets { target.finish() }
    }
}
