public import Foundation
public import Offload
import PostgresNIO

/// A look at the whole queue, as `offload status` prints it.
public struct QueueStatus: Sendable {
    /// A host that served the queue, and when it was last heard of.
    public struct Host: Sendable {
        public var id: String
        public var startedAt: Date
        public var lastHeartbeat: Date
        /// Jobs it holds under a lease now.
        public var running: Int
    }

    /// Jobs by state and priority.
    public var counts: [JobState: [Priority: Int]]
    /// How long the oldest ready job has waited.
    public var oldestWaiting: Duration?
    /// Hosts heard of in the last `hostWindow`, newest heartbeat first.
    public var hosts: [Host]
    /// Running jobs, oldest first (at most 50).
    public var running: [StoredJob]
}

extension PostgresQueue {
    /// Counts by state and priority, the oldest ready job's wait, hosts heard of in the last
    /// minute, and the running jobs.
    public func status() async throws -> QueueStatus {
        try await prepared()
        var counts: [JobState: [Priority: Int]] = [:]
        for try await (state, priority, count) in try await query(
            """
            SELECT state::text, priority::int, count(*)::int FROM \(unescaped: s).jobs GROUP BY 1, 2
            UNION ALL
            SELECT state, priority::int, count(*)::int FROM \(unescaped: s).job_history WHERE ended GROUP BY 1, 2
            """, logger: logger
        ).decode((String, Int, Int).self) {
            guard let priority = Priority(rawValue: priority) else { continue }
            let state = try StateColumn.state(state)
            counts[state, default: [:]][priority] = count
        }
        var oldest: Duration?
        for try await seconds in try await query(
            """
            SELECT extract(epoch FROM now() - min(run_at))::float8 FROM \(unescaped: s).jobs
            WHERE state IN ('available', 'scheduled') AND run_at <= now()
            """, logger: logger
        ).decode(Double?.self) {
            oldest = seconds.map { .milliseconds(max($0, 0) * 1_000) }
        }
        var hosts: [QueueStatus.Host] = []
        for try await (id, started, beat, running) in try await query(
            """
            SELECT host.id, host.started_at, host.heartbeat_at,
                   (SELECT count(*) FROM \(unescaped: s).jobs WHERE state = 'running' AND lease_owner = host.id)::int
            FROM \(unescaped: s).hosts AS host WHERE host.heartbeat_at > now() - interval '1 minute'
            ORDER BY host.heartbeat_at DESC
            """, logger: logger
        ).decode((String, Date, Date, Int).self) {
            hosts.append(QueueStatus.Host(id: id, startedAt: started, lastHeartbeat: beat, running: running))
        }
        var running: [StoredJob] = []
        for try await id in try await query(
            """
            SELECT id::text FROM \(unescaped: s).jobs WHERE state = 'running' ORDER BY started_at LIMIT 50
            """, logger: logger
        ).decode(String.self) {
            if let job = try await job(JobID(id)) { running.append(job) }
        }
        return QueueStatus(counts: counts, oldestWaiting: oldest, hosts: hosts, running: running)
    }
}
