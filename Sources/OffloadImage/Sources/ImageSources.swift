#if canImport(Glibc)
import Glibc
#endif
public import Offload

/// Where an `image` job may read pictures from: `data:` URLs, and files under allowed folders
/// (resolved through symlinks, so a link out of them is refused too). Nothing is fetched from
/// the network.
public struct ImageSources: Sendable, Hashable {
    /// The folders whose files may be read.
    public let folders: AllowedFolders
    /// The largest file or `data:` payload read, in bytes.
    public var maxBytes: Int = 32 << 20

    /// Folders (resolved) whose files may be read.
    public var allowedRoots: [String] { folders.roots }

    /// - Parameter allowedRoots: folders whose files jobs may name; relative paths in payloads
    ///   are taken from the working directory.
    public init(allowedRoots: [String]) {
        folders = AllowedFolders(allowedRoots)
    }

    /// The bytes `reference` names.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field`, for a reference outside the
    ///   allowed roots, a network URL, a malformed `data:` URL, a missing or oversized file.
    public func load(_ reference: String, field: String) throws(OffloadError) -> [UInt8] {
        if reference.hasPrefix("data:") { return try DataURL.decode(reference, field: field, maxBytes: maxBytes) }
        return try folders.read(reference, field: field, maxBytes: maxBytes)
    }
}

/// `data:[<media type>][;base64],<data>` (RFC 2397).
enum DataURL {
    static func decode(_ url: String, field: String, maxBytes: Int) throws(OffloadError) -> [UInt8] {
        guard let comma = url.firstIndex(of: ",") else {
            throw OffloadError(.invalidPayload, "\(field): a data: URL needs a comma before its data")
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        let body = url[url.index(after: comma)...]
        guard body.utf8.count <= maxBytes * 4 / 3 + 4 else {
            throw OffloadError(.invalidPayload, "\(field): the data: URL is over the limit of \(maxBytes) bytes")
        }
        if header.hasSuffix(";base64") {
            guard let bytes = Base64.decode(body) else { throw OffloadError(.invalidPayload, "\(field): the data: URL's base64 is malformed") }
            return bytes
        }
        guard let bytes = percentDecode(body) else { throw OffloadError(.invalidPayload, "\(field): the data: URL has a bad %-escape") }
        return bytes
    }

    private static func percentDecode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Base64.hexValue), let low = iterator.next().flatMap(Base64.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}

/// Standard base64 (RFC 4648), padding optional, whitespace ignored.
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): continue
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return bytes
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
