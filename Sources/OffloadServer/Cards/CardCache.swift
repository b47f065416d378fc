import NIOCore
import Synchronization

/// Rendered cards by key, up to `maxBytes` in all (the least recently used go first), with one
/// render at a time per key: requests for a card being drawn wait for that drawing.
final class CardCache: Sendable {
    /// A drawn card: its bytes in a buffer that every response shares (no copy per request).
    struct Card: Sendable {
        var body: ByteBuffer
        var contentType: String
    }

    let maxBytes: Int

    private struct State {
        var cards: ByteBoundedLRU<Card>
        var rendering: [String: Task<Card, any Error>] = [:]
        var hits = 0
        var misses = 0
    }

    private let state: Mutex<State>

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
        state = Mutex(State(cards: ByteBoundedLRU(maxBytes: maxBytes)))
    }

    /// The card, if kept (and marks it used).
    func cached(_ key: String) -> Card? {
        state.withLock { state in
            let card = state.cards.value(key)
            if card != nil { state.hits += 1 }
            return card
        }
    }

    /// Whether the card is being drawn now.
    func isRendering(_ key: String) -> Bool {
        state.withLock { $0.rendering[key] != nil }
    }

    /// The card: kept, being drawn (then awaited), or drawn by `render` now and kept.
    /// A failed drawing is not kept: the next request draws again.
    func card(_ key: String, render: @escaping @Sendable () async throws -> Card) async throws -> Card {
        let task = state.withLock { state -> Task<Card, any Error> in
            if let card = state.cards.value(key) {
                return Task { card }
            }
            if let running = state.rendering[key] { return running }
            state.misses += 1
            let task = Task { [self] in
                defer { self.state.withLock { _ = $0.rendering.removeValue(forKey: key) } }
                let card = try await render()
                keep(card, as: key)
                return card
            }
            state.rendering[key] = task
            return task
        }
        return try await task.value
    }

    var counts: (hits: Int, misses: Int, cards: Int, bytes: Int) {
        state.withLock { ($0.hits, $0.misses, $0.cards.count, $0.cards.bytes) }
    }

    private func keep(_ card: Card, as key: String) {
        state.withLock { _ = $0.cards.insert(card, size: card.body.readableBytes, as: key) }
    }
}
