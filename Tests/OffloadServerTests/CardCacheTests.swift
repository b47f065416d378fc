import NIOCore
import Synchronization
import Testing
@testable import OffloadServer

/// The card cache on its own: its byte bound, its order of eviction, one drawing per key.
@Suite struct CardCacheTests {
    static func card(_ size: Int, _ fill: UInt8 = 1) -> CardCache.Card {
        CardCache.Card(body: ByteBuffer(bytes: [UInt8](repeating: fill, count: size)), contentType: "image/png")
    }

    @Test func itKeepsAtMostItsBytesAndDropsTheLeastRecentlyUsedFirst() async throws {
        let cache = CardCache(maxBytes: 1_000)
        for key in ["a", "b", "c"] { _ = try await cache.card(key) { Self.card(300) } }
        #expect(cache.counts.bytes == 900)
        // "a" used again: "b" is now the least recently used, and goes when "d" comes.
        #expect(cache.cached("a") != nil)
        _ = try await cache.card("d") { Self.card(300) }
        #expect(cache.counts.bytes == 900)
        #expect(cache.cached("b") == nil)
        #expect(cache.cached("a") != nil && cache.cached("c") != nil && cache.cached("d") != nil)
        // A card larger than the whole cache is served but not kept.
        let huge = try await cache.card("huge") { Self.card(5_000) }
        #expect(huge.body.readableBytes == 5_000)
        #expect(cache.cached("huge") == nil)
        #expect(cache.counts.bytes == 900)
    }

    @Test func requestsForACardBeingDrawnWaitForThatDrawingAndAFailureIsNotKept() async throws {
        let cache = CardCache(maxBytes: 1 << 20)
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let drawings = Count()
        let cards = try await withThrowingTaskGroup(of: CardCache.Card.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    try await cache.card("same") {
                        drawings.value.add(1, ordering: .relaxed)
                        try await Task.sleep(for: .milliseconds(200))
                        return Self.card(100, 7)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(drawings.value.load(ordering: .relaxed) == 1)
        #expect(cards.count == 16 && cards.allSatisfy { $0.body == Self.card(100, 7).body })
        struct Broken: Error {}
        await #expect(throws: Broken.self) { try await cache.card("broken") { throw Broken() } }
        #expect(cache.cached("broken") == nil)
        #expect(try await cache.card("broken") { Self.card(10) }.body.readableBytes == 10)
    }

    @Test func aCardsKeyCoversEveryParameterThatChangesAPixel() throws {
        let base = try CardRequest(query: "title=Hi", format: "png", version: "1")
        let variants = [
            "title=Hi&textColor=%23ff0000", "title=Hi&backgroundColor=red", "title=Hi&template=sunset",
            "title=Hi&titleFontSize=70", "title=Hi&descriptionFontSize=20", "title=Hi&padding=10", "title=Hi&width=1000",
            "title=Hi&height=600", "title=Hi&textAlign=center", "title=Hi&fontFamily=Serif", "title=Hi&description=x",
            "title=Hi!", "title=Hi&logoPosition=center"
        ]
        var keys: Set<String> = [base.key]
        for query in variants { keys.insert(try CardRequest(query: query, format: "png", version: "1").key) }
        keys.insert(try CardRequest(query: "title=Hi", format: "jpeg", version: "1").key)
        keys.insert(try CardRequest(query: "title=Hi&quality=50", format: "jpeg", version: "1").key)
        keys.insert(try CardRequest(query: "title=Hi", format: "png", version: "2").key)
        #expect(keys.count == variants.count + 4)
        // The order of the parameters, and a blank description, change no pixel.
        #expect(
            try CardRequest(query: "textColor=%23ff0000&title=Hi", format: "png", version: "1").key
                == CardRequest(query: "title=Hi&textColor=%23ff0000", format: "png", version: "1").key)
        #expect(try CardRequest(query: "title=Hi&description=", format: "png", version: "1").key == base.key)
    }
}
