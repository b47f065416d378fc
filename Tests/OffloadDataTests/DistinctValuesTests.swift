import Offload
import Testing
@testable import OffloadData

/// The `unique` aggregate's set against Swift's own `Set`, on strings of every length (the hash
/// reads eight bytes at a time), through growth and merging.
@Suite struct DistinctValuesTests {
    @Test func countsWhatASetOfStringsCounts() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab\u{e9}/-0123456789".unicodeScalars)
        var parts = [DistinctValues(), DistinctValues()]
        var reference = Set<String>()
        for index in 0..<20_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let text = String(String.UnicodeScalarView((0..<length).map { _ in alphabet.randomElement(using: &generator)! }))
            parts[index % 2].insert(.string(text))
            reference.insert(text)
        }
        parts[0].insert(.int(7))
        parts[1].insert(.int(7))
        parts[1].insert(.bool(true))
        var merged = parts[0]
        merged.formUnion(parts[1])
        #expect(merged.count == reference.count + 2)
        var again = merged
        again.formUnion(merged)
        #expect(again.count == merged.count)
    }

    @Test func stringsAreTheSameOnlyByteForByte() {
        var values = DistinctValues()
        for text in ["", "a", "abcdefgh", "abcdefgh\0", "abcdefghi", "abcdefgh", "", "\u{e9}", "e\u{301}"] { values.insert(.string(text)) }
        // "é" precomposed and decomposed are different bytes, counted apart as polars and jq do.
        #expect(values.count == 7)
        #expect(ByteStringSet.hash(UnsafeBufferPointer(start: nil, count: 0)) == ByteStringSet.hash(UnsafeBufferPointer(start: nil, count: 0)))
    }
}
