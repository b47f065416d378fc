import Foundation
import OffloadTestSupport
import Testing
@testable import Offload

/// The core's base64 against Foundation's, every length up to three blocks and beyond, both
/// alphabets; malformed text is refused, padding and white space are not.
@Suite struct Base64Tests {
    @Test func itAgreesWithFoundationBothWays() {
        var random = SeededRandom(seed: 64)
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let foundation = Data(bytes).base64EncodedString()
            #expect(Base64.encode(bytes) == foundation, "length \(length)")
            let urlSafe = foundation.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64.encode(bytes, urlSafe: true) == urlSafe, "length \(length)")
            #expect(Base64.decode(Substring(foundation)) == bytes, "length \(length)")
            #expect(Base64.decode(Substring(urlSafe)) == bytes, "length \(length)")
        }
        #expect(Base64.decode("aGVs bG8=\n") == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8*") == nil)
        #expect(Base64.decode("é") == nil)
    }
}
