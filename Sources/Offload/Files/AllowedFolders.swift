#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The folders whose files jobs may read (images, fonts, data inputs). A path is resolved
/// through every symlink and `..` before it is checked, so a link or a `../` out of the folders
/// is refused too. A relative path is looked for in each folder in turn (for `offload run`, the
/// job file's folder first), then in the working directory.
public struct AllowedFolders: Sendable, Hashable {
    /// The folders, resolved.
    public let roots: [String]

    public init(_ roots: [String]) {
        var resolved: [String] = []
        for root in roots.compactMap(Self.resolve) where !resolved.contains(root) { resolved.append(root) }
        self.roots = resolved
    }

    /// The resolved path of `reference`, a file under one of the folders.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field`, for a network URL, a
    ///   missing file or one outside the folders.
    public func resolve(_ reference: String, field: String) throws(OffloadError) -> String {
        if let colon = reference.firstIndex(of: ":"), reference[..<colon].count > 1, reference[..<colon].allSatisfy(\.isLetter) {
            throw OffloadError(.invalidPayload, "\(field): '\(reference.prefix(60))' is a \(reference[..<colon]) URL; Offload fetches nothing over the network (use a file under an allowed folder)")
        }
        let candidates = reference.hasPrefix("/") ? [reference] : roots.map { "\($0)/\(reference)" } + [reference]
        guard let path = candidates.lazy.compactMap(Self.resolve).first else {
            throw OffloadError(.invalidPayload, "\(field): no file at '\(reference)'")
        }
        guard roots.contains(where: { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            throw OffloadError(.invalidPayload, "\(field): '\(reference)' is outside the allowed folders (\(roots.joined(separator: ", ")))")
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw OffloadError(.invalidPayload, "\(field): '\(reference)' is not a regular file")
        }
        return path
    }

    /// The whole file at `reference` (under the folders), at most `maxBytes` long.
    public func read(_ reference: String, field: String, maxBytes: Int) throws(OffloadError) -> [UInt8] {
        let path = try resolve(reference, field: field)
        var info = stat()
        guard stat(path, &info) == 0, Int(info.st_size) <= maxBytes else {
            throw OffloadError(.invalidPayload, "\(field): '\(reference)' is \(info.st_size) bytes, over the limit of \(maxBytes)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OffloadError(.invalidPayload, "\(field): cannot open '\(reference)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { readDescriptor(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            offset += count
        }
        return Array(bytes[0..<offset])
    }

    private static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// `read(2)`, for types whose own `read` hides it.
func readDescriptor(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
