public import Offload
import PostgresNIO

// What the hosts serving the queue run, so that a job none of them can run is refused when it
// is submitted rather than left waiting forever.
extension PostgresQueue {
    public func announce(_ request: ClaimRequest) async throws {
        try await prepared()
        try await query(
            """
            INSERT INTO \(unescaped: s).hosts (id, kinds, capabilities)
            VALUES (\(StorableText.sanitized(request.host)), \(request.kinds)::text[], \(request.capabilities.sorted())::text[])
            ON CONFLICT (id) DO UPDATE SET kinds = excluded.kinds, capabilities = excluded.capabilities, heartbeat_at = now()
            """, logger: logger)
    }

    /// What one live host serves.
    public struct ServingHost: Sendable, Hashable {
        public var id: String
        public var kinds: Set<String>
        public var capabilities: Set<String>

        /// Whether this host claims `job`: its kind is served and its required capabilities declared.
        public func serves(_ job: Job) -> Bool {
            kinds.contains(job.kind) && job.requiredCapabilities.isSubset(of: capabilities)
        }
    }

    /// The hosts that said what they serve and renewed their leases within three lease
    /// durations (the others are presumed gone).
    public func servingHosts() async throws -> [ServingHost] {
        try await prepared()
        let windowMs = configuration.leaseDuration.milliseconds * 3
        var hosts: [ServingHost] = []
        for try await (id, kinds, capabilities) in try await query(
            """
            SELECT id, kinds, capabilities FROM \(unescaped: s).hosts
            WHERE kinds IS NOT NULL AND heartbeat_at > now() - \(windowMs) * interval '1 millisecond'
            """, logger: logger
        ).decode((String, [String], [String]).self) {
            hosts.append(ServingHost(id: id, kinds: Set(kinds), capabilities: Set(capabilities)))
        }
        return hosts
    }

    /// Refuses a job that no live host runs, when hosts are serving the queue (with none, a job
    /// waits for the first to start, as it always could).
    /// - Throws: ``OffloadError/Code/noCapableWorker`` naming the kind and capabilities.
    public static func checkServed(_ job: Job, by hosts: [ServingHost]) throws(OffloadError) {
        guard !hosts.isEmpty, !hosts.contains(where: { $0.serves(job) }) else { return }
        let needs = job.requiredCapabilities.isEmpty ? "" : " with capabilities \(job.requiredCapabilities.sorted().joined(separator: ", "))"
        throw OffloadError(
            .noCapableWorker,
            "no host serving the queue runs kind '\(job.kind)'\(needs); the \(hosts.count) hosts serving it run \(Set(hosts.flatMap(\.kinds)).sorted().joined(separator: ", "))"
        )
    }
}
