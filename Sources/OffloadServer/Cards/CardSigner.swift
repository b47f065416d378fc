public import Foundation
public import Offload

/// Signs and checks card URLs, as imgproxy does: the URL-safe base64 (no padding) of
/// HMAC-SHA256(key, salt ‖ path ‖ `?` ‖ canonical query), carried as the `sig` parameter.
/// With a signer configured the service draws (and serves from its cache) only cards whose URL
/// it signed, so nobody can make it draw a card of their own words.
///
/// The canonical query is the card's parameters but `sig`, sorted by name, each name and value
/// percent-encoded but for the unreserved characters (`A–Z a–z 0–9 - . _ ~`): a URL signed once
/// checks whatever escaping a client or a proxy gives it. `expires` (Unix seconds), when given,
/// is signed with the rest and refused once past. Several keys check (the first signs), so a
/// key is rotated by adding the new one first, then dropping the old one once its URLs are gone.
///
/// ```swift
/// let signer = try CardSigner(hexKeys: ["943b421c…"], hexSalt: "520f986b…")
/// let path = signer.sign(["title": "Hello", "template": "midnight"])   // "/og.png?template=midnight&title=Hello&sig=…"
/// ```
public struct CardSigner: Sendable {
    /// Why a card URL was refused.
    public enum Refusal: Error, Equatable, Sendable {
        /// No `sig` parameter.
        case missing
        /// A `sig` that no key made for this URL.
        case wrong
        /// Signed, but its `expires` has passed (or is not a number).
        case expired
    }

    /// The shortest key accepted, in bytes.
    public static let minimumKeyBytes = 16

    /// One HMAC per key, its padded blocks hashed once.
    let codes: [HMACSHA256]
    let salt: [UInt8]

    /// - Parameters:
    ///   - keys: the keys that check a signature, the first of which signs; each at least
    ///     ``minimumKeyBytes`` bytes.
    ///   - salt: bytes put before every signed path.
    /// - Throws: ``OffloadError`` `invalidConfiguration` for no key or a short one.
    public init(keys: [[UInt8]], salt: [UInt8]) throws(OffloadError) {
        guard !keys.isEmpty else { throw OffloadError(.invalidConfiguration, "a card signer needs at least one key") }
        if let short = keys.firstIndex(where: { $0.count < Self.minimumKeyBytes }) {
            throw OffloadError(
                .invalidConfiguration,
                "card key \(short + 1) is \(keys[short].count) bytes; a key is at least \(Self.minimumKeyBytes) (openssl rand -hex 32 makes one)")
        }
        codes = keys.map { HMACSHA256(key: $0) }
        self.salt = salt
    }

    /// Keys and salt written in hexadecimal, as imgproxy's `IMGPROXY_KEY` and `IMGPROXY_SALT`.
    public init(hexKeys: [String], hexSalt: String) throws(OffloadError) {
        var keys: [[UInt8]] = []
        for (index, text) in hexKeys.enumerated() {
            guard let key = Hex.bytes(text) else {
                throw OffloadError(.invalidConfiguration, "card key \(index + 1) is not hexadecimal (openssl rand -hex 32 makes one)")
            }
            keys.append(key)
        }
        guard let salt = Hex.bytes(hexSalt) else { throw OffloadError(.invalidConfiguration, "the card salt is not hexadecimal") }
        try self.init(keys: keys, salt: salt)
    }

    /// The signed path of a card: `path?canonical query&sig=…`.
    /// - Parameters:
    ///   - parameters: the card's query parameters (`title`, `template`, …).
    ///   - path: the card route, `/og.png`, `/og.jpg` or `/og.webp` (the prefix a router mounts
    ///     the service under is not signed: the URL holds wherever it is mounted).
    ///   - expires: when the URL stops working, if ever.
    public func sign(_ parameters: [String: String], path: String = "/og.png", expires: Date? = nil) -> String {
        var parameters = parameters
        parameters["sig"] = nil
        if let expires { parameters["expires"] = String(Int64(expires.timeIntervalSince1970.rounded(.down))) }
        let canonical = Self.canonicalQuery(parameters)
        let code = codes[0].authenticationCode(salt, Array("\(path)?\(canonical)".utf8))
        return "\(path)?\(canonical)&sig=\(Base64.encode(code, urlSafe: true))"
    }

    /// A card's query (`title=Hello&template=midnight`) as parameters, for ``sign(_:path:expires:)``.
    /// - Throws: ``OffloadError`` `invalidPayload` naming a parameter that is malformed or given twice.
    public static func parameters(of query: String) throws(OffloadError) -> [String: String] {
        do { return try CardRequest.parameters(of: query.hasPrefix("?") ? String(query.dropFirst()) : query) } catch {
            throw OffloadError(.invalidPayload, error.message)
        }
    }

    /// Checks the `sig` of a card's parameters (as the query gave them) for `path`.
    public func check(_ parameters: [String: String], path: String, now: Date = Date()) throws(Refusal) {
        guard let given = parameters["sig"] else { throw .missing }
        // 32 bytes in URL-safe base64 without padding: 43 characters of its alphabet, nothing else.
        guard given.utf8.count == 43, given.utf8.allSatisfy(Self.isBase64URL), let givenCode = Base64.decode(Substring(given)), givenCode.count == 32
        else { throw .wrong }
        var signed = parameters
        signed["sig"] = nil
        let message = Array("\(path)?\(Self.canonicalQuery(signed))".utf8)
        var matched = false
        for code in codes {
            let expected = code.authenticationCode(salt, message)
            // Every key is tried and every byte compared: the time taken tells nothing.
            var difference: UInt8 = 0
            for (a, b) in zip(expected, givenCode) { difference |= a ^ b }
            matched = matched || difference == 0
        }
        guard matched else { throw .wrong }
        if let expires = signed["expires"] {
            guard let seconds = Int64(expires), !Self.hasExpired(seconds, now: now) else { throw .expired }
        }
    }

    /// Whether a URL signed to expire at `expires` (Unix seconds) has expired at `now`.
    static func hasExpired(_ expires: Int64, now: Date = Date()) -> Bool {
        Double(expires) < now.timeIntervalSince1970
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
    }

    /// The parameters sorted by name, names and values percent-encoded but for the unreserved
    /// characters, joined with `&`.
    static func canonicalQuery(_ parameters: [String: String]) -> String {
        parameters.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { "\(percentEncoded($0.key))=\(percentEncoded($0.value))" }
            .joined(separator: "&")
    }

    static func percentEncoded(_ text: String) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
