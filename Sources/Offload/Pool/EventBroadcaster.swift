import Synchronization

/// Fans pool events out to every subscriber's stream. Costs nothing while nobody listens.
///
/// ``emit(_:)`` is called with the pool's main lock held (so events keep their order); it takes
/// the subscribers' lock and then each stream's own: the main lock always comes first. A stream's
/// termination handler takes only the subscribers' lock.
final class EventBroadcaster: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<PoolEvent>.Continuation]>([:])
    private let observers = Mutex<[Int: @Sendable (PoolEvent) -> Void]>([:])
    private let nextID = Atomic<Int>(0)
    private let listening = Atomic<Bool>(false)

    /// Whether anyone listens; the pool builds events only then.
    var isListening: Bool { listening.load(ordering: .relaxed) }

    /// Calls `observer` with each event as it is emitted, under the pool's lock: it must be
    /// quick and must not call the pool. A stream costs a task's wake-up per event; this costs a
    /// call. Returns what ``stopObserving(_:)`` takes.
    func observe(_ observer: @escaping @Sendable (PoolEvent) -> Void) -> Int {
        let id = nextID.add(1, ordering: .relaxed).newValue
        observers.withLock { $0[id] = observer }
        listening.store(true, ordering: .relaxed)
        return id
    }

    func stopObserving(_ id: Int) {
        let left = observers.withLock { observers in
            observers[id] = nil
            return observers.count
        }
        updateListening(observers: left)
    }

    private func updateListening(observers: Int? = nil, subscribers: Int? = nil) {
        let observing = observers ?? self.observers.withLock { $0.count }
        let subscribed = subscribers ?? self.subscribers.withLock { $0.count }
        listening.store(observing + subscribed > 0, ordering: .relaxed)
    }

    func subscribe(bufferingPolicy: AsyncStream<PoolEvent>.Continuation.BufferingPolicy) -> AsyncStream<PoolEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: PoolEvent.self, bufferingPolicy: bufferingPolicy)
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = continuation }
        listening.store(true, ordering: .relaxed)
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let left = self.subscribers.withLock { subscribers in
                subscribers[id] = nil
                return subscribers.count
            }
            self.updateListening(subscribers: left)
        }
        return stream
    }

    func emit(_ events: [PoolEvent]) {
        guard !events.isEmpty else { return }
        for observer in observers.withLock({ Array($0.values) }) {
            for event in events { observer(event) }
        }
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
        updateListening(subscribers: 0)
        for target in targets { target.finish() }
    }
}
