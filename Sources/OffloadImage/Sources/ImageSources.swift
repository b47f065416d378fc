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
            guard let high = iterator.next().flatMap(Hex.value), let low = iterator.next().flatMap(Hex.value) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}
