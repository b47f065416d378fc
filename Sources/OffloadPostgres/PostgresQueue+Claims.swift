import Foundation
public import Offload
import PostgresNIO

// Claims, leases and ends: the `DurableQueue` side a `QueueServer` uses. Every statement that
// changes a claimed job is fenced by its claim (id, attempt, lease owner, state `running`), and
// its events are written by the same statement.
extension PostgresQueue {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedJob] {
        guard request.limit > 0, !request.kinds.isEmpty else { return [] }
        try await prepared()
        let leaseMs = configuration.leaseDuration.milliseconds
        let rows = try await query("""
            WITH next AS (
                SELECT id FROM \(unescaped: s).jobs
                WHERE state IN ('available', 'scheduled') AND run_at <= now()
                  AND kind = ANY(\(request.kinds)) AND capabilities <@ \(request.capabilities.sorted())::text[]
                ORDER BY rank, seq
                LIMIT \(request.limit)
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE \(unescaped: s).jobs AS job
                SET state = 'running', attempt = job.attempt + 1, lease_owner = \(request.host),
                    lease_expires_at = now() + \(leaseMs) * interval '1 millisecond', started_at = now(), cancel_requested = false
                FROM next WHERE job.id = next.id
                RETURNING job.*
            ), logged AS (
                INSERT INTO \(unescaped: s).job_events (job_id, type, attempt, host)
                SELECT id, 'started', attempt, \(request.host) FROM claimed
            )
            SELECT id::text, kind, priority::int, payload::text, attempt, max_attempts, timeout_ms, capabilities,
                   retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter
            FROM claimed ORDER BY rank, seq
            """, logger: logger)
        var claimed: [ClaimedJob] = []
        for try await (id, kind, priority, payload, attempt, maxAttempts, timeoutMs, capabilities, initial, multiplier, maxDelay, jitter)
            in rows.decode((String, String, Int, String, Int, Int, Int?, [String], Double, Double, Double, Double).self) {
            var failure: OffloadError?
            var value = JSONValue.null
            do { value = try JSONParser.parse(payload) } catch {
                failure = OffloadError(.invalidPayload, "the stored payload is not JSON the pool reads: \(error)")
            }
            var job = Job(id: JobID(id), kind: kind, payload: .json(value), priority: Priority(rawValue: priority) ?? .normal,
                          timeout: timeoutMs.map { .milliseconds($0) }, maxRetries: 0,
                          retryPolicy: RetryPolicy(initialDelay: .milliseconds(initial), multiplier: multiplier,
                                                   maxDelay: .milliseconds(maxDelay), jitter: jitter),
                          requiredCapabilities: Set(capabilities))
            job.priorAttempts = attempt - 1
            claimed.append(ClaimedJob(job: job, attempt: attempt, maxAttempts: maxAttempts, owner: request.host, failure: failure))
        }
        return claimed
    }

    public func renew(_ jobs: [ClaimedJob], host: String) async throws -> LeaseRenewal {
        try await prepared()
        let leaseMs = configuration.leaseDuration.milliseconds
        let rows = try await query("""
            WITH beat AS (
                INSERT INTO \(unescaped: s).hosts (id) VALUES (\(host))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
            )
            UPDATE \(unescaped: s).jobs AS job SET lease_expires_at = now() + \(leaseMs) * interval '1 millisecond'
            FROM unnest(\(jobs.map { $0.job.id.rawValue })::uuid[], \(jobs.map(\.attempt))::int[]) AS held (id, attempt)
            WHERE job.id = held.id AND job.attempt = held.attempt AND job.lease_owner = \(host) AND job.state = 'running'
            RETURNING job.id::text, job.cancel_requested
            """, logger: logger)
        var kept = Set<JobID>()
        var renewal = LeaseRenewal()
        for try await (id, cancel) in rows.decode((String, Bool).self) {
            kept.insert(JobID(id))
            if cancel { renewal.cancelRequested.insert(JobID(id)) }
        }
        renewal.lost = Set(jobs.map(\.job.id)).subtracting(kept)
        return renewal
    }

    public func finish(_ claimed: ClaimedJob, _ outcome: JobOutcome) async throws -> FinishResult {
        let id = claimed.job.id.rawValue
        let retry = outcome.status == .failed && (outcome.error?.isRetryable ?? false) && claimed.attempt < claimed.maxAttempts
        let state: String = switch outcome.status {
        case .completed: "completed"
        case .cancelled: "cancelled"
        case .failed: retry ? "scheduled" : "failed"
        }
        let result: String? = try outcome.result.map { JSONWriter.string(try $0.json()) }
        let code = outcome.error?.code.rawValue
        let message = outcome.error?.message
        let note = outcome.error?.description
        let levelMs = configuration.levelMilliseconds
        let rows: PostgresRowSequence
        if retry {
            rows = try await query("""
                WITH next AS (
                    SELECT id, now() + least(retry_initial_ms * power(retry_multiplier, attempt - 1), retry_max_ms)
                                     * (1 + retry_jitter * (2 * random() - 1)) * interval '1 millisecond' AS due
                    FROM \(unescaped: s).jobs
                    WHERE id = \(id)::uuid AND attempt = \(claimed.attempt) AND lease_owner = \(claimed.owner) AND state = 'running'
                ), done AS (
                    UPDATE \(unescaped: s).jobs AS job
                    SET state = 'scheduled', run_at = next.due, rank = next.due - job.priority * \(levelMs) * interval '1 millisecond',
                        lease_owner = NULL, lease_expires_at = NULL, error_code = \(code), error_message = \(message)
                    FROM next WHERE job.id = next.id
                    RETURNING job.id, job.attempt
                )
                INSERT INTO \(unescaped: s).job_events (job_id, type, attempt, host, message)
                SELECT id, 'retryScheduled', attempt, \(claimed.owner), \(note)
                FROM done RETURNING job_id
                """, logger: logger)
        } else {
            rows = try await query("""
                WITH done AS (
                    UPDATE \(unescaped: s).jobs
                    SET state = \(state)::\(unescaped: s).job_state, finished_at = now(), result = \(result)::jsonb,
                        error_code = \(code), error_message = \(message), lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = \(id)::uuid AND attempt = \(claimed.attempt) AND lease_owner = \(claimed.owner) AND state = 'running'
                    RETURNING id, attempt
                ), logged AS (
                    INSERT INTO \(unescaped: s).job_events (job_id, type, attempt, host, message)
                    SELECT id, \(state), attempt, \(claimed.owner), \(note) FROM done
                )
                SELECT pg_notify('\(unescaped: channels.done)', id::text) FROM done
                """, logger: logger)
        }
        var recorded = false
        for try await _ in rows { recorded = true }
        if recorded { return retry ? .retryScheduled : .recorded }
        try await query("""
            INSERT INTO \(unescaped: s).job_events (job_id, type, attempt, host, message)
            SELECT id, 'leaseLost', \(claimed.attempt), \(claimed.owner),
                   'attempt ' || \(claimed.attempt) || ' ended ' || \(outcome.status.rawValue) || ' after its lease was lost; its end was not recorded'
            FROM \(unescaped: s).jobs WHERE id = \(id)::uuid
            """, logger: logger)
        return .leaseLost
    }

    public func release(_ jobs: [ClaimedJob]) async throws {
        guard !jobs.isEmpty else { return }
        try await query("""
            WITH released AS (
                UPDATE \(unescaped: s).jobs AS job
                SET state = 'available', attempt = job.attempt - 1, lease_owner = NULL, lease_expires_at = NULL, started_at = NULL
                FROM unnest(\(jobs.map { $0.job.id.rawValue })::uuid[], \(jobs.map(\.attempt))::int[], \(jobs.map(\.owner))::text[])
                     AS held (id, attempt, host)
                WHERE job.id = held.id AND job.attempt = held.attempt AND job.lease_owner = held.host AND job.state = 'running'
                RETURNING job.id, job.attempt, held.host
            ), logged AS (
                INSERT INTO \(unescaped: s).job_events (job_id, type, attempt, host, message)
                SELECT id, 'released', attempt + 1, host, 'handed back before it started' FROM released
            )
            SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM (SELECT count(*) AS n FROM released) AS r WHERE n > 0
            """, logger: logger)
    }

    public func waitForWork(_ request: ClaimRequest, timeout: Duration) async {
        var wait = timeout
        if let due = try? await nextDue(kinds: request.kinds), due < wait { wait = max(due, .zero) }
        await workArrived.wait(timeout: wait)
    }

    /// How long until the earliest delayed job of `kinds` is due.
    func nextDue(kinds: [String]) async throws -> Duration? {
        let rows = try await query("""
            SELECT extract(epoch FROM min(run_at) - now())::float8 FROM \(unescaped: s).jobs
            WHERE state IN ('available', 'scheduled') AND kind = ANY(\(kinds))
            """, logger: logger)
        var due: Duration?
        for try await seconds in rows.decode(Double?.self) { due = seconds.map { .milliseconds(max($0, 0) * 1_000) } }
        return due
    }
}
