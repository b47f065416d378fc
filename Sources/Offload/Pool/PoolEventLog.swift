/// The events the pool's state made while its lock was held, in the order it made them.
/// ``WorkerPool`` hands them to the subscribers before it releases the lock, so every stream sees
/// events in the order they happened, and their times never decrease (they are read under the lock).
///
/// A class so that the state's methods can record an event while they mutate the state.
/// `@unchecked Sendable`: touched under the pool's main lock only.
final class PoolEventLog: @unchecked Sendable {
    /// Whether anyone listens; events are made only then.
    var isOn = false
    private(set) var pending: [PoolEvent] = []

    /// Records an event, made only if anyone listens.
    func emit(_ event: @autoclosure () -> PoolEvent) {
        if isOn { pending.append(event()) }
    }

    /// The events recorded since the last call.
    func take() -> [PoolEvent] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}
