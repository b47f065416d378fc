import Foundation
public import Offload
import PostgresNIO

extension PostgresQueue {
    /// A job to submit, with what only a durable queue offers.
    public struct Submission: Sendable {
        /// The job (its id must be a UUID; generated ids are UUID v7). Its `maxRetries` and
        /// `retryPolicy` are the queue's, its `runAt` (or delay) is counted from now.
        public var job: Job
        /// While a job with this key is queued or running, submitting another returns its id
        /// instead of adding one.
        public var uniqueKey: String?

        public init(_ job: Job, uniqueKey: String? = nil) {
            self.job = job
            self.uniqueKey = uniqueKey
        }
    }

    /// Checks that the queue can hold `submission`, without a statement: what ``submit(_:)``
    /// refuses for this job alone.
    /// - Throws: ``OffloadError``: `invalidPayload` naming the field (an id that is not a UUID,
    ///   a kind, capability or unique key holding U+0000), `resourceLimitExceeded` for a payload
    ///   over ``PostgresQueueConfiguration/maxPayloadBytes``.
    public func check(_ submission: Submission) throws(OffloadError) {
        _ = try SubmissionRow(submission, at: 0, now: .now, maxPayloadBytes: configuration.maxPayloadBytes)
    }

    /// Submits one job.
    /// - Returns: its id, or the id of the unfinished job that holds the same `uniqueKey`.
    /// - Throws: ``OffloadError`` (`invalidPayload` naming the field, `duplicateJob`), or the
    ///   database's error when it cannot be reached.
    @discardableResult
    public func submit(_ job: Job, uniqueKey: String? = nil) async throws -> JobID {
        try await submit([Submission(job, uniqueKey: uniqueKey)])[0]
    }

    /// Submits a job of handler `H`'s kind; the parameters after the payload are ``Job``'s.
    @discardableResult
    public func submit<H: JobHandler>(
        _ handler: H.Type, _ payload: H.Payload, uniqueKey: String? = nil, priority: Priority = .normal, timeout: Duration? = nil,
        maxRetries: Int = 0, retryPolicy: RetryPolicy = RetryPolicy(), delay: Duration? = nil, requiredCapabilities: Set<String> = []
    ) async throws -> JobID {
        let job = Job(
            handler, payload, priority: priority, timeout: timeout, maxRetries: maxRetries, retryPolicy: retryPolicy,
            delay: delay, requiredCapabilities: requiredCapabilities)
        return try await submit(job, uniqueKey: uniqueKey)
    }

    /// Submits jobs in one statement (one round trip), all or none.
    /// - Returns: each job's id, in order (for a `uniqueKey` already held, the holder's).
    @discardableResult
    public func submit(_ submissions: [Submission]) async throws -> [JobID] {
        guard !submissions.isEmpty else { return [] }
        // One instant for the batch: delays keep their differences, as one `now()` gives them.
        let now = ContinuousClock.now
        var submissions = submissions
        for (index, job) in PoolTracing.submitted(submissions.map(\.job), tracer: configuration.tracer).enumerated() {
            submissions[index].job = job
        }
        let rows = try submissions.enumerated().map { index, submission throws(OffloadError) in
            try SubmissionRow(submission, at: index, now: now, maxPayloadBytes: configuration.maxPayloadBytes)
        }
        try await prepared()
        if submissions.contains(where: { !$0.job.dependsOn.isEmpty }) { return try await submitLinked(submissions, rows: rows) }
        var held: [Int] = []
        do {
            let inserted = try await query(insertion(rows), logger: logger)
            held = try await Self.held(inserted)
        } catch let error as PSQLError {
            throw Self.submissionError(error)
        }
        var ids = rows.map { JobID($0.id) }
        guard !held.isEmpty else { return ids }
        // Jobs whose key an unfinished job holds get that job's id.
        let keys = held.map { rows[$0].uniqueKey }
        let holders = try await query(
            """
            SELECT unique_key, id::text FROM \(unescaped: s).jobs WHERE unique_key = ANY(\(keys))
            """, logger: logger)
        var byKey: [String: String] = [:]
        for try await (key, id) in holders.decode((String, String).self) { byKey[key] = id }
        for index in held {
            guard let holder = byKey[rows[index].uniqueKey] else {
                // The holder finished between the two statements: submit this one again.
                ids[index] = try await submit([submissions[index]])[0]
                continue
            }
            ids[index] = JobID(holder)
        }
        return ids
    }

    /// The statement that inserts `rows` (a job whose id has already run refuses the batch; a
    /// unique key an unfinished job holds skips its row): per row, its place, whether it was
    /// added, and the first id of the batch found in the history.
    func insertion(_ rows: [SubmissionRow]) -> PostgresQuery {
        """
        WITH input AS (
            SELECT * FROM unnest(\(rows.map(\.id))::uuid[], \(rows.map(\.kind))::text[], \(rows.map(\.priority))::int[],
                                 \(rows.map(\.payload))::text[], \(rows.map(\.maxAttempts))::int[],
                                 \(rows.map(\.retryInitialMs))::float8[], \(rows.map(\.retryMultiplier))::float8[],
                                 \(rows.map(\.retryMaxMs))::float8[], \(rows.map(\.retryJitter))::float8[],
                                 \(rows.map(\.delayMs))::float8[], \(rows.map(\.timeoutMs))::int8[],
                                 \(rows.map(\.capabilities))::text[], \(rows.map(\.uniqueKey))::text[], \(rows.map(\.index))::int[],
                                 \(rows.map(\.trace))::text[], \(rows.map(\.tags))::text[],
                                 \(rows.map(\.waitingFor))::int[], \(rows.map(\.hasDependents))::bool[])
                AS t (id, kind, priority, payload, max_attempts, ri, rm, rx, rj, delay_ms, timeout_ms, caps, unique_key, ord, trace,
                      tags, waiting_for, has_dependents)
        ), finished AS (
            -- An id of a job that has finished (its row is in the history, not in jobs).
            SELECT job_id::text AS id FROM \(unescaped: s).job_history WHERE job_id = ANY(\(rows.map(\.id))::uuid[]) LIMIT 1
        ), inserted AS (
            INSERT INTO \(unescaped: s).jobs (id, kind, priority, payload, state, max_attempts, retry_initial_ms, retry_multiplier,
                                              retry_max_ms, retry_jitter, run_at, rank, timeout_ms, capabilities, unique_key, trace,
                                              tags, waiting_for, has_dependents)
            SELECT id, kind, priority, payload::json,
                   (CASE WHEN waiting_for > 0 THEN 'waiting' WHEN delay_ms > 0 THEN 'scheduled' ELSE 'available' END)
                       ::\(unescaped: s).job_state,
                   max_attempts, ri, rm, rx, rj, now() + delay_ms * interval '1 millisecond',
                   \(unescaped: s).job_rank(now() + delay_ms * interval '1 millisecond', priority, \(configuration.levelMilliseconds)), NULLIF(timeout_ms, -1),
                   ARRAY(SELECT json_array_elements_text(caps::json)), NULLIF(unique_key, ''), NULLIF(trace, ''),
                   ARRAY(SELECT json_array_elements_text(tags::json)), waiting_for, has_dependents
            FROM input WHERE NOT EXISTS (SELECT 1 FROM finished) ORDER BY ord
            ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
            RETURNING id
        )
        SELECT input.ord, inserted.id IS NOT NULL, (SELECT id FROM finished)
        FROM input LEFT JOIN inserted ON inserted.id = input.id ORDER BY input.ord
        """
    }

    /// The places of the rows ``insertion(_:)`` skipped for their unique key.
    /// - Throws: ``OffloadError/Code/duplicateJob`` for an id that has already run.
    static func held(_ inserted: PostgresRowSequence) async throws -> [Int] {
        var held: [Int] = []
        var finished: String?
        for try await (index, added, done) in inserted.decode((Int, Bool, String?).self) {
            finished = finished ?? done
            if !added { held.append(index) }
        }
        if let finished { throw OffloadError(.duplicateJob, "a job with id \(finished) has already run in this queue") }
        return held
    }

    /// A submission's database error as the caller should see it.
    static func submissionError(_ error: PSQLError) -> any Error {
        if error.serverInfo?[.sqlState] == "23505" {
            return OffloadError(
                .duplicateJob, "a job with one of these ids is already in the queue (\(error.serverInfo?[.detail] ?? "duplicate id"))")
        }
        return refusal(error) ?? error
    }
}

/// One job as the insert statement takes it (arrays of these, one per column).
struct SubmissionRow {
    var index: Int
    var id: String
    var kind: String
    var priority: Int
    var payload: String
    var maxAttempts: Int
    var retryInitialMs: Double
    var retryMultiplier: Double
    var retryMaxMs: Double
    var retryJitter: Double
    /// In whole microseconds, as the database keeps times: delays that differ by whole
    /// microseconds keep their exact difference (and so their ties), as in memory.
    var delayMs: Double
    /// -1: none (the serving pool's default timeout applies).
    var timeoutMs: Int64
    /// A JSON array of strings.
    var capabilities: String
    /// "" for none.
    var uniqueKey: String
    /// The trace's headers as a JSON object; "" for none.
    var trace: String
    /// A JSON array of strings.
    var tags: String
    /// Its dependencies not ended yet (0: none; set by a batch with dependencies).
    var waitingFor = 0
    /// Whether jobs of its batch depend on it.
    var hasDependents = false

    init(_ submission: PostgresQueue.Submission, at index: Int, now: ContinuousClock.Instant, maxPayloadBytes: Int) throws(OffloadError) {
        let job = submission.job
        try job.validate()
        guard UUID(uuidString: job.id.rawValue) != nil else {
            throw OffloadError(
                .invalidPayload, "id: a durable job's id must be a UUID (leave it out to get one; a key of your own goes in uniqueKey)")
        }
        let payload: JSONValue
        do { payload = try job.payload.json() } catch {
            throw OffloadError(.invalidPayload, "payload: it cannot be written as JSON (\(error))")
        }
        let text = JSONWriter.string(payload)
        guard text.utf8.count <= maxPayloadBytes else {
            throw OffloadError(
                .resourceLimitExceeded, "the payload is \(text.utf8.count) bytes of JSON, over the queue's limit of \(maxPayloadBytes)")
        }
        if let key = submission.uniqueKey, key.isEmpty || key.utf8.count > 1_024 {
            throw OffloadError(.invalidPayload, "uniqueKey must be 1 to 1,024 bytes")
        }
        try StorableText.check(job.kind, field: "kind")
        if let key = submission.uniqueKey { try StorableText.check(key, field: "uniqueKey") }
        for capability in job.requiredCapabilities { try StorableText.check(capability, field: "capabilities") }
        self.index = index
        id = job.id.rawValue
        kind = job.kind
        priority = Int(job.priority.rawValue)
        self.payload = text
        maxAttempts = job.maxRetries + 1
        retryInitialMs = job.retryPolicy.initialDelay.milliseconds
        retryMultiplier = job.retryPolicy.multiplier
        retryMaxMs = job.retryPolicy.maxDelay.milliseconds
        retryJitter = job.retryPolicy.jitter
        delayMs = job.runAt.map { Self.wholeMicroseconds($0 - now) / 1_000 } ?? 0
        timeoutMs = job.timeout.map { Int64($0.milliseconds.rounded(.up)) } ?? -1
        capabilities = JSONWriter.string(.array(job.requiredCapabilities.sorted().map { .string($0) }))
        uniqueKey = submission.uniqueKey ?? ""
        tags = JSONWriter.string(.array(job.tags.map { .string($0) }))
        trace = job.trace.isEmpty ? "" : JSONWriter.string(.object(job.trace.values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
    }

    /// `duration` truncated to whole microseconds (0 when negative), exactly.
    static func wholeMicroseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return Double(seconds) * 1_000_000 + Double(attoseconds / 1_000_000_000_000)
    }
}
