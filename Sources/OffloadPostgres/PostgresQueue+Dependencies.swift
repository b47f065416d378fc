import Foundation
public import Offload
import PostgresNIO

// Jobs that run after others: a batch with dependencies, submitted in one transaction, and the
// links a job's view shows.
extension PostgresQueue {
    /// Submits a batch some of whose jobs depend on others (of the batch, or already in the
    /// queue): each dependent waits for those not ended; one whose dependency already failed is
    /// cancelled at once (unless it runs anyway), and so are those of the batch after it.
    ///
    /// The dependencies held live are marked first (their rows locked to the commit): a
    /// dependency that ends after that finds this batch's edges when its row leaves; one that
    /// ended before is read from the history by the next statement, which sees its end.
    /// - Throws: ``OffloadError/Code/invalidDependency`` for a dependency the queue does not
    ///   hold or a cycle in the batch; ``OffloadError/Code/invalidPayload`` for a unique key in it.
    func submitLinked(_ submissions: [Submission], rows: [SubmissionRow]) async throws -> [JobID] {
        let jobs = submissions.map(\.job)
        _ = try DependencyOrder.sorted(jobs)
        if submissions.contains(where: { $0.uniqueKey != nil }) {
            throw OffloadError(.invalidPayload, "uniqueKey: a batch with dependencies takes no unique keys")
        }
        let batch = Set(jobs.map(\.id))
        var outside: [String] = []
        var seen = Set<JobID>()
        for job in jobs {
            for dependency in job.dependsOn where !batch.contains(dependency) && seen.insert(dependency).inserted {
                guard UUID(uuidString: dependency.rawValue) != nil else {
                    throw OffloadError(.invalidDependency, "dependsOn: the queue holds no job \(dependency) (a durable job's id is a UUID)")
                }
                outside.append(dependency.rawValue.lowercased())
            }
        }
        // Each dependent waits for every dependency until its end is counted: those of the
        // batch and those held as they end, those already ended just after the insert.
        let dependedOn = Set(jobs.flatMap(\.dependsOn))
        var rows = rows
        for index in rows.indices {
            rows[index].waitingFor = jobs[index].dependsOn.count
            rows[index].hasDependents = dependedOn.contains(jobs[index].id)
        }
        let (insertion, named) = (insertion(rows), outside)
        // Rows are locked in id order; a deadlock with the ends of those jobs (which lock in
        // theirs) is the database's to break, and the batch is tried again.
        var deadlocks = 0
        while true {
            do {
                try await transaction { [self] connection in
                    try await insertLinked(jobs, insertion: insertion, outside: named, on: connection)
                }
                return jobs.map(\.id)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "40P01" && deadlocks < 5 {
                deadlocks += 1
            } catch let error as PSQLError {
                throw Self.submissionError(error)
            }
        }
    }

    private func insertLinked(_ jobs: [Job], insertion: PostgresQuery, outside: [String], on connection: PostgresConnection) async throws {
        // Marked while held: their rows stay locked until this commits.
        var held = Set<String>()
        for try await id in try await connection.query(
            """
            UPDATE \(unescaped: s).jobs SET has_dependents = true
            WHERE id IN (SELECT id FROM \(unescaped: s).jobs WHERE id = ANY(\(outside)::uuid[]) ORDER BY id FOR UPDATE)
            RETURNING id::text
            """, logger: logger
        ).decode(String.self) { held.insert(id) }
        // Ended before: this statement's snapshot, taken after the lock waits, holds their ends.
        var ended: [String: Bool] = [:]
        let rest = outside.filter { !held.contains($0) }
        if !rest.isEmpty {
            for try await (id, completed) in try await connection.query(
                """
                SELECT job_id::text, state = 'completed' FROM \(unescaped: s).job_history WHERE job_id = ANY(\(rest)::uuid[]) AND ended
                """, logger: logger
            ).decode((String, Bool).self) { ended[id] = completed }
        }
        if let unknown = rest.first(where: { ended[$0] == nil }) {
            throw OffloadError(.invalidDependency, "dependsOn: the queue holds no job \(unknown)")
        }
        _ = try await Self.held(try await connection.query(insertion, logger: logger))
        let edges = jobs.flatMap { job in job.dependsOn.enumerated().map { (job: job, position: $0.offset, dependency: $0.element) } }
        let dependents = jobs.filter { !$0.dependsOn.isEmpty }.map(\.id.rawValue)
        try await connection.query(
            """
            WITH edges AS (
                INSERT INTO \(unescaped: s).job_dependencies (job_id, depends_on, position, runs_after_failure)
                SELECT * FROM unnest(\(edges.map(\.job.id.rawValue))::uuid[], \(edges.map(\.dependency.rawValue))::uuid[],
                                     \(edges.map(\.position))::int[], \(edges.map { $0.job.onDependencyFailure == .run })::bool[])
            )
            INSERT INTO \(unescaped: s).job_steps (job_id, type, at)
            SELECT id, 'waiting', created_at FROM \(unescaped: s).jobs WHERE id = ANY(\(dependents)::uuid[])
            """, logger: logger)
        guard !ended.isEmpty else { return }
        try await connection.query(
            """
            SELECT \(unescaped: s).release_dependents(\(Array(ended.keys))::uuid[], \(Array(ended.values))::bool[],
                                                      \(jobs.map(\.id.rawValue))::uuid[])
            """, logger: logger)
    }

    /// What `id` depends on and what depends on it (at most `limit`), each with its kind and
    /// state as the queue has it now; `nil` when the queue holds no such job.
    public func links(of id: JobID, limit: Int = 1_000) async throws -> (dependencies: [JobLinkRow], dependents: [JobLinkRow])? {
        guard UUID(uuidString: id.rawValue) != nil else { return nil }
        try await prepared()
        var dependencies: [JobLinkRow] = []
        var dependents: [JobLinkRow] = []
        for try await (side, other, kind, state, runs) in try await query(
            """
            WITH links AS (
                (SELECT 'on' AS side, d.depends_on AS other, d.position, d.runs_after_failure FROM \(unescaped: s).job_dependencies AS d
                 WHERE d.job_id = \(id.rawValue)::uuid)
                UNION ALL
                (SELECT 'by', d.job_id, 0, d.runs_after_failure FROM \(unescaped: s).job_dependencies AS d
                 WHERE d.depends_on = \(id.rawValue)::uuid LIMIT \(max(limit, 0)))
            )
            SELECT l.side, l.other::text, coalesce(j.kind, h.kind), coalesce(j.state::text, h.state), l.runs_after_failure
            FROM links AS l
            LEFT JOIN \(unescaped: s).jobs AS j ON j.id = l.other
            LEFT JOIN LATERAL (SELECT x.kind, x.state FROM \(unescaped: s).job_history AS x WHERE x.job_id = l.other AND x.ended
                               ORDER BY x.seq DESC LIMIT 1) AS h ON j.id IS NULL
            ORDER BY l.side, l.position, l.other
            """, logger: logger
        ).decode((String, String, String?, String?, Bool).self) {
            let row = JobLinkRow(id: JobID(other), kind: kind, state: try state.map(StateColumn.state), runsAfterFailure: runs)
            if side == "on" { dependencies.append(row) } else { dependents.append(row) }
        }
        return (dependencies, dependents)
    }
}

/// A job linked to another by a dependency, as ``PostgresQueue/links(of:limit:)`` reads it.
public struct JobLinkRow: Sendable, Hashable {
    public var id: JobID
    /// Its kind and state, while the queue holds it.
    public var kind: String?
    public var state: JobState?
    /// Whether the dependent of the link runs even when the dependency fails.
    public var runsAfterFailure: Bool
}
