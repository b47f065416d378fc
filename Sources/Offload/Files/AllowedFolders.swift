#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The folders whose files jobs may read (images, fonts, data inputs). A path is resolved
/// through every symlink and `..` before it is checked, so a link or a `../` out of the folders
/// is refused too. A relative path is looked for in each folder in turn (for `offload run`, the
/// job file's folder first), then in the working directory.
///
/// A refusal reads the same whether the path exists or not, and names the folders as they were
/// given, never their absolute paths: a job's author learns nothing of the files around them.
public struct AllowedFolders: Sendable, Hashable {
    /// The folders, resolved.
    public let roots: [String]
    /// The folders as they were given, for messages.
    public let names: [String]

    public init(_ roots: [String]) {
        var resolved: [String] = []
        var names: [String] = []
        for root in roots {
            guard let path = Self.resolve(root), !resolved.contains(path) else { continue }
            resolved.append(path)
            names.append(root)
        }
        self.roots = resolved
        self.names = names
    }

    /// The resolved path of `reference`, a regular file under one of the folders.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field`, for a network URL, or a
    ///   path that is not a regular file under the folders (one message for all such).
    public func resolve(_ reference: String, field: String) throws(OffloadError) -> String {
        if let colon = reference.firstIndex(of: ":"), reference[..<colon].count > 1, reference[..<colon].allSatisfy(\.isLetter) {
            throw OffloadError(
                .invalidPayload,
                "\(field): \(OffloadError.quote(reference)) is a \(reference[..<colon].prefix(20)) URL; Offload fetches nothing over the network (use a file under an allowed folder)"
            )
        }
        let candidates = reference.hasPrefix("/") ? [reference] : roots.map { "\($0)/\(reference)" } + [reference]
        guard let path = candidates.lazy.compactMap(Self.resolve).first(where: isInside) else { throw notAllowed(reference, field: field) }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw notAllowed(reference, field: field) }
        return path
    }

    /// Whether `path` (resolved) is one of the folders or under one.
    public func isInside(_ path: String) -> Bool {
        roots.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
    }

    /// The error for a reference that is not a readable file under the folders.
    public func notAllowed(_ reference: String, field: String) -> OffloadError {
        let folders = names.isEmpty ? "none are allowed" : "allowed: \(names.map { OffloadError.quote($0) }.joined(separator: ", "))"
        return OffloadError(.invalidPayload, "\(field): \(OffloadError.quote(reference)) is not a file under the allowed folders (\(folders))")
    }

    /// The whole file at `reference` (under the folders), at most `maxBytes` long. A FIFO or a
    /// device is refused without blocking.
    public func read(_ reference: String, field: String, maxBytes: Int) throws(OffloadError) -> [UInt8] {
        let path = try resolve(reference, field: field)
        do { return try RegularFile.read(path, maxBytes: maxBytes) } catch {
            guard case .tooLarge = error else { throw notAllowed(reference, field: field) }
            throw OffloadError(.invalidPayload, "\(field): \(OffloadError.quote(reference)) is \(error)")
        }
    }

    private static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
