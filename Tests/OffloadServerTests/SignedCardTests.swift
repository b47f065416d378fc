import Foundation
@testable import OffloadServer
import OffloadTestSupport
import Testing
@testable import Offload

/// Signed card URLs, as imgproxy signs its own: the service draws and serves only the cards it
/// signed, checks each of its keys (rotation) and refuses an expired URL, all before drawing.
@Suite(.serialized) struct SignedCardTests {
    static let oldKey = "6f6c646b65792d6f6c646b65792d6f6c646b6579"
    static let newKey = "943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881"
    static let salt = "520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5"
    static let serving = ["--isolation", "thread", "--workers", "1", "--card-key", "\(newKey),\(oldKey)", "--card-salt", salt]

    /// `offload sign-card` with `arguments`: the signed path it prints.
    func signCard(_ arguments: [String]) async throws -> String {
        let run = try await runCommand(builtExecutable("offload"), ["sign-card"] + arguments)
        #expect(run.status == 0, "\(run.output)")
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func misses(_ server: ServeProcess) async throws -> String? {
        let metrics = try await server.get("/metrics").text
        return metrics.split(separator: "\n").first { $0.hasPrefix("offload_card_cache_misses_total ") }.map(String.init)
    }

    @Test func hmacSHA256MatchesRFC4231() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        // Test cases 1, 2 and 6 (a key longer than a block) of RFC 4231.
        #expect(
            hex(HMACSHA256.authenticationCode(Array("Hi There".utf8), key: Array(repeating: 0x0b, count: 20)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            hex(HMACSHA256.authenticationCode(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(
            hex(
                HMACSHA256.authenticationCode(
                    Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), key: Array(repeating: 0xaa, count: 131)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func theSignatureIsImgproxysOverTheCanonicalQuery() throws {
        let signer = try CardSigner(hexKeys: [Self.newKey], hexSalt: Self.salt)
        let path = signer.sign(["title": "Hello, world", "template": "midnight"])
        #expect(path.hasPrefix("/og.png?template=midnight&title=Hello%2C%20world&sig="))
        // The signature, computed apart: base64url(HMAC-SHA256(key, salt ‖ path ‖ ? ‖ query)).
        let message = try #require(Data(hexString: Self.salt)) + Data("/og.png?template=midnight&title=Hello%2C%20world".utf8)
        let code = HMACSHA256.authenticationCode(Array(message), key: Array(try #require(Data(hexString: Self.newKey))))
        let expected = Data(code).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        #expect(path.hasSuffix("&sig=\(expected)"))
        #expect(throws: OffloadError.self) { try CardSigner(hexKeys: ["abcd"], hexSalt: Self.salt) }
        #expect(throws: OffloadError.self) { try CardSigner(hexKeys: ["zz" + Self.newKey.dropFirst(2)], hexSalt: Self.salt) }
        #expect(throws: OffloadError.self) { try CardSigner(hexKeys: [], hexSalt: Self.salt) }
    }

    @Test func onlySignedCardsAreDrawnOrServedAndEveryKeyChecks() async throws {
        let server = try await ServeProcess.start(Self.serving)
        let signed = try await signCard(["title=Signed card&template=forest", "--card-key", Self.newKey, "--card-salt", Self.salt])
        let drawn = try await server.get(signed, headers: [:])
        #expect(drawn.status == 200, "\(drawn.text.prefix(300))")
        #expect(drawn.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(drawn.header("X-Cache") == "miss")
        #expect(try await server.get(signed, headers: [:]).header("X-Cache") == "hit")

        // The same parameters escaped and ordered otherwise: the same signed card.
        let query = try #require(signed.split(separator: "?", maxSplits: 1).last)
        let pairs = query.split(separator: "&").map(String.init).reversed().map { $0.replacingOccurrences(of: "%20", with: "+") }
        let reordered = try await server.get("/og.png?" + pairs.joined(separator: "&"), headers: [:])
        #expect(reordered.status == 200)
        #expect(reordered.header("X-Cache") == "hit")

        // Unsigned, tampered with, signed for another format, or by a key the service does not
        // have: 403, the cached card included, and nothing drawn.
        let before = try await misses(server)
        let refusals: [(String, String)] = [
            ("/og.png?title=Signed+card&template=forest", "signatureRequired"),
            (signed.replacingOccurrences(of: "Signed", with: "Forged"), "badSignature"),
            (signed.replacingOccurrences(of: "/og.png", with: "/og.jpg"), "badSignature"),
            (signed + "&width=600", "badSignature"),
            (
                try await signCard([
                    "title=Signed card&template=forest", "--card-key", String(repeating: "ab", count: 32), "--card-salt", Self.salt
                ]), "badSignature"
            ),
            (try await signCard(["title=Signed card&template=forest", "--card-key", Self.newKey, "--card-salt", "00"]), "badSignature")
        ]
        for (path, code) in refusals {
            let reply = try await server.get(path, headers: [:])
            #expect(reply.status == 403, "\(path): \(reply.status)")
            #expect(reply.json?["error"]?["code"]?.stringValue == code, "\(path): \(reply.text)")
            let etag = try #require(drawn.header("ETag"))
            #expect(try await server.get(path, headers: ["If-None-Match": etag]).status == 403)
        }
        #expect(try await misses(server) == before)

        // A URL signed with the older key still works while the service keeps it (rotation).
        let old = try await signCard(["title=Old key&template=forest", "--card-key", Self.oldKey, "--card-salt", Self.salt, "--format", "webp"])
        #expect(old.hasPrefix("/og.webp?"))
        let oldReply = try await server.get(old, headers: [:])
        #expect(oldReply.status == 200, "\(oldReply.text.prefix(300))")
        #expect(oldReply.header("Content-Type") == "image/webp")
        #expect(try await server.terminate().status == 0)

        // Once the old key is dropped, its URLs are refused.
        let rotated = try await ServeProcess.start(["--isolation", "thread", "--workers", "1", "--card-key", Self.newKey, "--card-salt", Self.salt])
        #expect(try await rotated.get(old, headers: [:]).status == 403)
        #expect(try await rotated.get(signed, headers: [:]).status == 200)
        #expect(try await rotated.terminate().status == 0)
    }

    @Test func anExpiredURLIsRefusedAndAnExpiryCannotBeMovedWithoutTheKey() async throws {
        let server = try await ServeProcess.start(Self.serving)
        let lasting = try await signCard(["title=For an hour", "--expires-in", "3600", "--card-key", Self.newKey, "--card-salt", Self.salt])
        #expect(lasting.contains("expires="))
        #expect(try await server.get(lasting, headers: [:]).status == 200)
        let brief = try await signCard(["title=For a second", "--expires-in", "1", "--card-key", Self.newKey, "--card-salt", Self.salt])
        // A URL served while valid (and so remembered with its card) expires all the same.
        let served = try await signCard(["title=For three seconds", "--expires-in", "3", "--card-key", Self.newKey, "--card-salt", Self.salt])
        #expect(try await server.get(served, headers: [:]).status == 200)
        try await Task.sleep(for: .milliseconds(2_100))
        let expired = try await server.get(brief, headers: [:])
        #expect(expired.status == 403)
        #expect(expired.json?["error"]?["code"]?.stringValue == "signatureExpired")
        try await Task.sleep(for: .milliseconds(2_000))
        #expect(try await server.get(served, headers: [:]).json?["error"]?["code"]?.stringValue == "signatureExpired")
        // Moving the expiry later breaks the signature.
        let expires = try #require(brief.range(of: #"expires=[0-9]+"#, options: .regularExpression))
        let moved = brief.replacingCharacters(in: expires, with: "expires=99999999999")
        #expect(try await server.get(moved, headers: [:]).json?["error"]?["code"]?.stringValue == "badSignature")
        #expect(try await server.terminate().status == 0)
    }

    @Test func serveRefusesASignerItCannotUse() async throws {
        for (arguments, message) in [
            (["--card-key", Self.newKey], "--card-key needs --card-salt"),
            (["--card-key", "abcd", "--card-salt", Self.salt], "card key 1 is 2 bytes"),
            (["--card-salt", Self.salt], "--card-salt needs --card-key")
        ] {
            let run = try await runCommand(builtExecutable("offload"), ["serve", "--port", "0"] + arguments, timeout: .seconds(30))
            #expect(run.status != 0)
            #expect(run.output.contains(message), "\(run.output)")
        }
    }
}

extension Data {
    init?(hexString: String) {
        guard let bytes = Hex.bytes(hexString) else { return nil }
        self.init(bytes)
    }
}
