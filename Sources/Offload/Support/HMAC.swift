/// HMAC-SHA256 (RFC 2104): a keyed digest, for signed URLs. The key's padded blocks are hashed
/// once, when it is made: each code then costs the message's blocks and two more.
package struct HMACSHA256: Sendable {
    private let inner: SHA256.Hasher
    private let outer: SHA256.Hasher

    package init(key: [UInt8]) {
        var block = key.count > 64 ? SHA256.digest(key) : key
        block += Array(repeating: 0, count: 64 - block.count)
        var inner = SHA256.Hasher()
        inner.update(block.map { $0 ^ 0x36 })
        var outer = SHA256.Hasher()
        outer.update(block.map { $0 ^ 0x5c })
        self.inner = inner
        self.outer = outer
    }

    /// The code of the message given in pieces, in order.
    package func authenticationCode(_ pieces: [UInt8]...) -> [UInt8] {
        var inner = self.inner
        for piece in pieces { inner.update(piece) }
        var outer = self.outer
        outer.update(inner.finalize())
        return outer.finalize()
    }

    package static func authenticationCode(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        HMACSHA256(key: key).authenticationCode(message)
    }
}
