import Synchronization

/// A count of cards being drawn, bounded: past `limit` a new drawing is refused rather than
/// queued behind the others (a flood of new cards cannot take the workers from other jobs).
final class RenderSlots: Sendable {
    let limit: Int
    private let taken = Mutex(0)

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a slot; `false` when all are taken.
    func take() -> Bool {
        taken.withLock { taken in
            guard taken < limit else { return false }
            taken += 1
            return true
        }
    }

    func give() {
        taken.withLock { $0 = max(0, $0 - 1) }
    }
}
