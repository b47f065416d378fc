import Foundation
public import Offload
import PostgresNIO

// Claims, leases and ends: the `DurableQueue` side a `QueueServer` uses. Every statement that
// changes a claimed job is fenced by its claim (id, attempt, lease owner, state `running`). A
// claim writes nothing but the job's row; an end moves the row into `job_history`. The state is
// compared as text in the fences: each row is then found by its primary key, never by walking
// every running job through the lease index, whose predicate `state = 'running'` would match.
extension PostgresQueue {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedJob] {
        guard request.limit > 0, !request.kinds.isEmpty else { return [] }
        try await prepared()
        let rows = try await execute(
            ClaimStatement(
                host: request.host, leaseMilliseconds: configuration.leaseDuration.milliseconds, kinds: request.kinds,
                capabilities: request.capabilities.sorted(), limit: request.limit, localRoom: request.kinds.map { request.localRoom[$0] ?? -1 }))
        var claimed: [ClaimedJob] = []
        for (id, kind, priority, payload, attempt, maxAttempts, timeoutMs, capabilities, initial, multiplier, maxDelay, jitter, trace) in rows {
            var failure: OffloadError?
            var value = JSONValue.null
            do { value = try JSONParser.parse(payload) } catch {
                failure = OffloadError(.invalidPayload, "the stored payload is not JSON the pool reads: \(error)")
            }
            var job = Job(
                id: JobID(id), kind: kind, payload: .json(value), priority: Priority(rawValue: priority) ?? .normal,
                timeout: timeoutMs.map { .milliseconds($0) }, maxRetries: 0,
                retryPolicy: RetryPolicy(
                    initialDelay: .milliseconds(initial), multiplier: multiplier,
                    maxDelay: .milliseconds(maxDelay), jitter: jitter),
                requiredCapabilities: Set(capabilities))
            job.priorAttempts = attempt - 1
            job.trace = trace.flatMap(Self.traceHeaders) ?? TraceHeaders()
            claimed.append(ClaimedJob(job: job, attempt: attempt, maxAttempts: maxAttempts, owner: request.host, failure: failure))
        }
        return claimed
    }

    /// A stored trace: a JSON object of header names and values (`nil` when it is not one the
    /// pool takes, such as one written by hand).
    static func traceHeaders(_ text: String) -> TraceHeaders? {
        guard case .object(let members)? = try? JSONParser.parse(text) else { return nil }
        var values: [String: String] = [:]
        for (name, value) in members {
            guard case .string(let text) = value else { return nil }
            values[name] = text
        }
        return try? TraceHeaders(values)
    }

    public func renew(_ jobs: [ClaimedJob], host: String) async throws -> LeaseRenewal {
        try await prepared()
        let leaseMs = configuration.leaseDuration.milliseconds
        let rows = try await query(
            """
            WITH beat AS (
                INSERT INTO \(unescaped: s).hosts (id) VALUES (\(host))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
            )
            UPDATE \(unescaped: s).jobs AS job SET lease_expires_at = now() + \(leaseMs) * interval '1 millisecond'
            FROM unnest(\(jobs.map { $0.job.id.rawValue })::uuid[], \(jobs.map(\.attempt))::int[]) AS held (id, attempt)
            WHERE job.id = held.id AND job.attempt = held.attempt AND job.lease_owner = \(host) AND job.state::text = 'running'
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

    public func finish(_ ends: [JobEnd]) async throws -> [FinishResult] {
        guard !ends.isEmpty else { return [] }
        try await prepared()
        // Text columns stand for NULL with '' (arrays of optionals do not encode).
        let states = ends.map { $0.snoozes ? "snoozed" : $0.retries ? "scheduled" : JobState($0.outcome.status).rawValue }
        let results = try ends.map { end throws(OffloadError) in
            do { return try end.outcome.result.map { JSONWriter.string(try $0.json()) } ?? "" } catch {
                throw OffloadError(.unstorable, "the result of job \(end.claimed.job.id) cannot be written as JSON: \(error)")
            }
        }
        let rows = try await execute(
            FinishStatement(
                ids: ends.map { $0.claimed.job.id.rawValue }, attempts: ends.map(\.claimed.attempt), owners: ends.map(\.claimed.owner),
                states: states, results: results,
                codes: ends.map { StorableText.sanitized($0.outcome.error?.code.rawValue ?? "") },
                messages: ends.map { StorableText.sanitized($0.outcome.error?.message ?? "") },
                snoozeMilliseconds: ends.map { Int64(($0.snooze?.milliseconds ?? 0).rounded()) },
                levelMilliseconds: configuration.levelMilliseconds, channel: channels.done))
        let recorded = Set(rows.compactMap { $0 })
        let lost = ends.filter { !recorded.contains($0.claimed.job.id.rawValue.lowercased()) }
        if !lost.isEmpty {
            try await query(
                """
                INSERT INTO \(unescaped: s).job_steps (job_id, type, attempt, host, message)
                SELECT lost.id, 'leaseLost', lost.attempt, lost.owner,
                       'attempt ' || lost.attempt || ' ended ' || lost.status || ' after its lease was lost; its end was not recorded'
                FROM unnest(\(lost.map { $0.claimed.job.id.rawValue })::uuid[], \(lost.map(\.claimed.attempt))::int[],
                            \(lost.map(\.claimed.owner))::text[], \(lost.map(\.outcome.status.rawValue))::text[])
                     AS lost (id, attempt, owner, status)
                """, logger: logger)
        }
        return zip(ends, states).map { end, state in
            guard recorded.contains(end.claimed.job.id.rawValue.lowercased()) else { return .leaseLost }
            return state == "scheduled" || state == "snoozed" ? .retryScheduled : .recorded
        }
    }

    public func release(_ jobs: [ClaimedJob]) async throws {
        guard !jobs.isEmpty else { return }
        try await query(
            """
            WITH held AS (
                SELECT job.id, job.attempt, job.started_at, held.host
                FROM unnest(\(jobs.map { $0.job.id.rawValue })::uuid[], \(jobs.map(\.attempt))::int[], \(jobs.map(\.owner))::text[])
                     AS held (id, attempt, host)
                JOIN \(unescaped: s).jobs AS job
                  ON job.id = held.id AND job.attempt = held.attempt AND job.lease_owner = held.host AND job.state::text = 'running'
                FOR UPDATE OF job
            ), released AS (
                UPDATE \(unescaped: s).jobs AS job
                SET state = 'available', attempt = job.attempt - 1, lease_owner = NULL, lease_expires_at = NULL, started_at = NULL,
                    changed = nextval('\(unescaped: s).changes')
                FROM held WHERE job.id = held.id
                RETURNING job.id
            ), logged AS (
                -- The claim's start, which no history row will show, then its hand-back.
                INSERT INTO \(unescaped: s).job_steps (job_id, type, at, attempt, host, message)
                SELECT id, step.type, CASE step.type WHEN 'started' THEN started_at ELSE clock_timestamp() END, attempt, host,
                       CASE step.type WHEN 'released' THEN 'handed back before it started' END
                FROM held, (VALUES (1, 'started'), (2, 'released')) AS step (n, type)
                ORDER BY held.id, step.n
            )
            SELECT pg_notify('\(unescaped: channels.jobs)', '') FROM (SELECT count(*) AS n FROM released) AS r WHERE n > 0
            """, logger: logger)
    }

    public func waitForWork(_ request: ClaimRequest, timeout: Duration) async {
        var wait = timeout
        if let due = try? await nextDue(request), due < wait { wait = max(due, .zero) }
        await workArrived.wait(timeout: wait)
    }

    /// How long until a job of `request`'s kinds may be claimed: at once when one is ready, at
    /// the earliest run-at time of the delayed ones. A ready job of a kind with limits counts
    /// from when they let it start: its rate's next start, at once under a limit on running
    /// jobs with room left; not at all when its kind is paused or full, here or on the queue
    /// (the end of one of its jobs, or a change of its limits, is announced).
    func nextDue(_ request: ClaimRequest) async throws -> Duration? {
        let locallyFull = request.localRoom.filter { $0.value <= 0 }.keys.sorted()
        let rows = try await query(
            """
            WITH limited AS (
                SELECT l.kind, l.rate_next_start,
                       l.paused OR l.kind = ANY(\(locallyFull)::text[])
                       -- No room left, or less than none (the limit was lowered below what runs).
                       OR (l.max_concurrent IS NOT NULL
                           AND coalesce((SELECT sum(r.free) FROM \(unescaped: s).kind_room AS r WHERE r.kind = l.kind), 0) <= 0) AS full,
                       EXISTS (SELECT FROM \(unescaped: s).jobs AS j
                               WHERE j.kind = l.kind AND j.state IN ('available', 'scheduled') AND j.run_at <= now()) AS ready
                FROM \(unescaped: s).kind_limits AS l
                WHERE l.kind = ANY(\(request.kinds)) AND (l.paused OR l.max_concurrent IS NOT NULL OR l.rate_jobs IS NOT NULL)
            ), held AS (
                SELECT kind FROM limited UNION SELECT unnest(\(locallyFull)::text[])
            ), open AS (
                SELECT u.kind FROM unnest(\(request.kinds)::text[]) AS u (kind) WHERE u.kind NOT IN (SELECT kind FROM held)
            )
            SELECT extract(epoch FROM least(
                -- Each kind along its own range of the ready index: a kind held back with a
                -- large backlog costs the others nothing.
                (SELECT min(due.at) FROM open AS o
                 CROSS JOIN LATERAL (SELECT min(j.run_at) AS at FROM \(unescaped: s).jobs AS j
                                     WHERE j.kind = o.kind AND j.state IN ('available', 'scheduled')) AS due),
                -- A limited kind with room: at once (or at its rate's next start) when a job of it
                -- is ready, else when its first delayed job is due.
                (SELECT min(greatest(coalesce(l.rate_next_start, now()), now())) FROM limited AS l WHERE NOT l.full AND l.ready),
                (SELECT min(due.at) FROM limited AS l
                 CROSS JOIN LATERAL (SELECT min(j.run_at) AS at FROM \(unescaped: s).jobs AS j
                                     WHERE j.kind = l.kind AND j.state IN ('available', 'scheduled')) AS due
                 WHERE NOT l.full AND NOT l.ready)
            ) - now())::float8
            """, logger: logger)
        var due: Duration?
        for try await seconds in rows.decode(Double?.self) { due = seconds.map { .milliseconds(max($0, 0) * 1_000) } }
        return due
    }
}

extension PostgresQueue {
    public func cancelRequests() -> AsyncStream<JobID> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobID.self, bufferingPolicy: .bufferingNewest(1_000))
        let subscription = hub.subscribe { notification in
            if case .cancel(let id) = notification { continuation.yield(id) }
        }
        continuation.onTermination = { [hub] _ in hub.unsubscribe(subscription) }
        return stream
    }

    /// Writes the steps the host's pool saw of jobs it runs (progress, stop requests,
    /// preemptions, restarts) into their histories, in one statement; a step of a job whose
    /// claim no longer holds is dropped.
    public func record(_ steps: [JobEvent], host: String) async throws {
        guard !steps.isEmpty else { return }
        try await prepared()
        // Text and number columns stand for NULL with '' and -1 (arrays of optionals do not encode).
        try await query(
            """
            INSERT INTO \(unescaped: s).job_steps (job_id, type, at, attempt, host, message, progress)
            SELECT e.id, e.type, e.at, e.attempt, \(host), nullif(e.message, ''), nullif(e.progress, -1)
            FROM unnest(\(steps.map(\.job.rawValue))::uuid[], \(steps.map(\.name))::text[],
                        \(steps.map { Date(timeIntervalSince1970: $0.at.secondsSince1970) })::timestamptz[],
                        \(steps.map { $0.attempt ?? 0 })::int[], \(steps.map { StorableText.sanitized($0.step.message ?? "") })::text[],
                        \(steps.map { step -> Double in if case .progress(let fraction, _) = step.step { fraction } else { -1 } })::float8[])
                WITH ORDINALITY AS e (id, type, at, attempt, message, progress, n)
            JOIN \(unescaped: s).jobs AS job
              ON job.id = e.id AND job.attempt = e.attempt AND job.lease_owner = \(host) AND job.state::text = 'running'
            ORDER BY e.n
            """, logger: logger)
    }
}
