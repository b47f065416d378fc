public import Foundation
public import Offload
import PostgresNIO

extension PostgresQueue {
    /// ``PostgresQueueConfiguration/maxArtifactBytes``.
    public var maxArtifactBytes: Int { configuration.maxArtifactBytes }

    /// Stores `bytes` (deduplicated by their SHA-256) as an artifact of `job`.
    /// - Throws: ``OffloadError/Code/resourceLimitExceeded`` past ``PostgresQueueConfiguration/maxArtifactBytes``.
    public func storeArtifact(_ bytes: [UInt8], contentType: String, name: String, job: ClaimedJob) async throws -> Artifact {
        let id = job.job.id
        guard bytes.count <= configuration.maxArtifactBytes else {
            throw OffloadError(
                .resourceLimitExceeded,
                "\(name) is \(OffloadError.grouped(bytes.count)) bytes, over the queue's artifact cap of \(OffloadError.grouped(configuration.maxArtifactBytes))"
            )
        }
        try await prepared()
        let sha = SHA256.hex(bytes)
        try await query(
            """
            WITH stored AS (
                INSERT INTO \(unescaped: s).artifacts (sha256, content_type, size, data)
                VALUES (decode(\(sha), 'hex'), \(contentType), \(bytes.count), \(Data(bytes)))
                ON CONFLICT (sha256) DO NOTHING
            )
            INSERT INTO \(unescaped: s).job_artifacts (job_id, sha256, name) VALUES (\(id.rawValue)::uuid, decode(\(sha), 'hex'), \(name))
            ON CONFLICT DO NOTHING
            """, logger: logger)
        return Artifact(sha256: sha, contentType: contentType, size: bytes.count)
    }

    /// The artifact named by `sha256` (hex) with its bytes, or `nil`.
    public func artifact(_ sha256: String) async throws -> (Artifact, Data)? {
        let hex = sha256.lowercased()
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        try await prepared()
        let rows = try await query(
            """
            SELECT content_type, size, data FROM \(unescaped: s).artifacts WHERE sha256 = decode(\(hex), 'hex')
            """, logger: logger)
        var found: (Artifact, Data)?
        for try await (type, size, data) in rows.decode((String, Int, Data).self) {
            found = (Artifact(sha256: hex, contentType: type, size: size), data)
        }
        return found
    }

    /// The artifacts of job `id`, by the names its host gave them.
    public func artifacts(of id: JobID) async throws -> [(name: String, artifact: Artifact)] {
        guard UUID(uuidString: id.rawValue) != nil else { return [] }
        try await prepared()
        let rows = try await query(
            """
            SELECT link.name, encode(artifact.sha256, 'hex'), artifact.content_type, artifact.size
            FROM \(unescaped: s).job_artifacts AS link JOIN \(unescaped: s).artifacts AS artifact USING (sha256)
            WHERE link.job_id = \(id.rawValue)::uuid ORDER BY link.name
            """, logger: logger)
        var found: [(name: String, artifact: Artifact)] = []
        for try await (name, sha, type, size) in rows.decode((String, String, String, Int).self) {
            found.append((name, Artifact(sha256: sha, contentType: type, size: size)))
        }
        return found
    }
}
