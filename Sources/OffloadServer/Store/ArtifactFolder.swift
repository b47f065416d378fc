#if canImport(Glibc)
import Glibc
#endif
import Offload
import Synchronization

/// The files jobs wrote, each moved to `<folder>/<sha256>` and kept while their sizes add up
/// to at most `maxBytes` (the least recently used go first).
final class ArtifactFolder: Sendable {
    let path: String
    let maxBytes: Int
    /// The largest file kept: a bigger one fails its job.
    static let maxFileBytes = 64 << 20

    private let index: Mutex<ByteBoundedLRU<Artifact>>

    init(path: String, maxBytes: Int) throws(OffloadError) {
        self.path = path
        self.maxBytes = maxBytes
        index = Mutex(ByteBoundedLRU(maxBytes: maxBytes))
        // Made when missing, the folders above it too; refused naming the one that cannot be.
        do { try FolderPath.make(path, mode: 0o700) } catch {
            throw OffloadError(.invalidConfiguration, "cannot make the folder \(error.path) for the jobs' files: \(error.reason)")
        }
    }

    /// Moves the file at `source` in and returns what it is.
    func store(_ source: String, name: String) throws(OffloadError) -> Artifact {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(source, maxBytes: Self.maxFileBytes) } catch {
            unlink(source)
            if case .tooLarge = error {
                throw OffloadError(.resourceLimitExceeded, "\(name) is over the \(OffloadError.grouped(Self.maxFileBytes))-byte cap on a job's file")
            }
            throw OffloadError(.handlerFailed, "the job's file \(name) could not be read: \(error)")
        }
        let sha256 = SHA256.hex(bytes)
        let artifact = Artifact(sha256: sha256, contentType: Artifact.contentType(of: name), size: bytes.count)
        guard rename(source, path + "/" + sha256) == 0 else {
            unlink(source)
            throw OffloadError(.handlerFailed, "the job's file \(name) could not be kept: \(String(cString: strerror(errno)))")
        }
        var evicted = index.withLock { index -> [String] in
            if index.value(sha256) != nil { return [] }
            return index.insert(artifact, size: artifact.size, as: sha256)
        }
        // Larger than the whole folder may hold: not kept, so not left on disk either.
        if artifact.size > maxBytes { evicted.append(sha256) }
        for sha in evicted { unlink(path + "/" + sha) }
        return artifact
    }

    /// The file named by `sha256`, or `nil` when it is not kept.
    func read(_ sha256: String) -> StoredFile? {
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        guard let artifact = index.withLock({ $0.value(sha256) }) else { return nil }
        guard let bytes = try? RegularFile.read(path + "/" + sha256, maxBytes: Self.maxFileBytes) else { return nil }
        return StoredFile(bytes: bytes, contentType: artifact.contentType, sha256: sha256)
    }
}
