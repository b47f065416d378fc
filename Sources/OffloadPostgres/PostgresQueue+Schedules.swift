import Foundation
public import Offload
import PostgresNIO

// Periodic jobs on the queue (migration 14): any host inserts a due tick's job; the statement
// that does it moves the schedule's next tick, fenced by the tick it read, so each tick is
// inserted once however many hosts look.
extension PostgresQueue {
    /// Adds `schedule`, or replaces the one of its name (its next tick counted from now; its
    /// last run kept).
    /// - Throws: ``OffloadError/Code/invalidPayload`` for a schedule or job the queue cannot hold;
    ///   ``OffloadError/Code/resourceLimitExceeded`` for a new one past ``Schedule/maxSchedules``.
    public func addSchedule(_ schedule: Schedule) async throws {
        try schedule.validate()
        let template = try SubmissionRow(
            Submission(schedule.job(for: Date(), id: JobID.generate())), at: 0, now: .now, maxPayloadBytes: configuration.maxPayloadBytes)
        try StorableText.check(schedule.cron.expression, field: "cron")
        let next = schedule.tick(after: Date()).map(Self.microseconds)
        try await prepared()
        let rows = try await query(
            """
            INSERT INTO \(unescaped: s).schedules (name, cron, time_zone, missed, paused, next_run_at, kind, priority, payload, max_attempts,
                                                   retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, timeout_ms,
                                                   capabilities, tags)
            SELECT \(schedule.name), \(schedule.cron.expression), \(schedule.timeZone.identifier), \(schedule.missedTicks.rawValue),
                    \(schedule.isPaused), timestamptz 'epoch' + \(next) * interval '1 microsecond', \(template.kind), \(template.priority),
                    \(template.payload)::json, \(template.maxAttempts), \(template.retryInitialMs), \(template.retryMultiplier),
                    \(template.retryMaxMs), \(template.retryJitter), NULLIF(\(template.timeoutMs), -1),
                    ARRAY(SELECT json_array_elements_text(\(template.capabilities)::json)),
                    ARRAY(SELECT json_array_elements_text(\(template.tags)::json))
            -- A new schedule past the most a queue keeps is not added.
            WHERE EXISTS (SELECT FROM \(unescaped: s).schedules WHERE name = \(schedule.name))
               OR (SELECT count(*) FROM \(unescaped: s).schedules) < \(Schedule.maxSchedules)
            ON CONFLICT (name) DO UPDATE
            SET cron = excluded.cron, time_zone = excluded.time_zone, missed = excluded.missed, paused = excluded.paused,
                next_run_at = excluded.next_run_at, kind = excluded.kind, priority = excluded.priority, payload = excluded.payload,
                max_attempts = excluded.max_attempts, retry_initial_ms = excluded.retry_initial_ms,
                retry_multiplier = excluded.retry_multiplier, retry_max_ms = excluded.retry_max_ms, retry_jitter = excluded.retry_jitter,
                timeout_ms = excluded.timeout_ms, capabilities = excluded.capabilities, tags = excluded.tags, updated_at = now()
            RETURNING name
            """, logger: logger)
        var added = false
        for try await _ in rows.decode(String.self) { added = true }
        guard added else {
            throw OffloadError(.resourceLimitExceeded, "a queue keeps at most \(OffloadError.grouped(Schedule.maxSchedules)) schedules")
        }
    }

    /// Removes the schedule named `name` (the jobs it inserted go on); whether there was one.
    @discardableResult
    public func removeSchedule(_ name: String) async throws -> Bool {
        try await prepared()
        let rows = try await query("DELETE FROM \(unescaped: s).schedules WHERE name = \(name) RETURNING name", logger: logger)
        var found = false
        for try await _ in rows.decode(String.self) { found = true }
        return found
    }

    /// Pauses a schedule (its ticks are not run) or resumes it (from its first tick after now);
    /// whether there was one.
    @discardableResult
    public func setSchedulePaused(_ paused: Bool, name: String) async throws -> Bool {
        try await prepared()
        guard let state = try await schedules().first(where: { $0.schedule.name == name }) else { return false }
        let next = paused ? nil : state.schedule.tick(after: Date()).map(Self.microseconds)
        let rows = try await query(
            """
            UPDATE \(unescaped: s).schedules
            SET paused = \(paused), updated_at = now(),
                next_run_at = coalesce(timestamptz 'epoch' + \(next) * interval '1 microsecond', next_run_at)
            WHERE name = \(name) RETURNING name
            """, logger: logger)
        var found = false
        for try await _ in rows.decode(String.self) { found = true }
        return found
    }

    /// The queue's schedules, by name, with each one's next tick and last run.
    public func schedules() async throws -> [ScheduleState] {
        try await prepared()
        return try await scheduleRows(where: "true").map(\.state)
    }

    /// Inserts the jobs of the ticks due now (of at most 100 schedules a call), each once across
    /// hosts; a host calls it every second or so.
    /// - Returns: how long until the next tick is due, if a schedule has one.
    public func insertDueTicks() async throws -> Duration? {
        try await prepared()
        // An idle host asks one question a second: how long until the next tick.
        let first = try await untilNextTick()
        guard let wait = first, wait <= .zero else { return first }
        let now = try await databaseNow()
        for row in try await scheduleRows(where: "NOT paused AND next_run_at <= now() ORDER BY next_run_at LIMIT 100") {
            guard let due = row.state.nextRun else { continue }
            let schedule = row.state.schedule
            let (ticks, next) = schedule.plan(due: due, now: now)
            let ids = ticks.map { _ in JobID.generate().rawValue }
            try await query(
                """
                WITH moved AS (
                    UPDATE \(unescaped: s).schedules
                    SET next_run_at = timestamptz 'epoch' + \(next.map(Self.microseconds)) * interval '1 microsecond',
                        last_run_at = coalesce(timestamptz 'epoch' + \(ticks.last.map(Self.microseconds)) * interval '1 microsecond', last_run_at),
                        last_job_id = coalesce(\(ids.last)::uuid, last_job_id), updated_at = now()
                    WHERE name = \(schedule.name) AND NOT paused
                      AND (extract(epoch FROM next_run_at) * 1000000)::int8 = \(row.dueMicroseconds)
                    RETURNING *
                ), inserted AS (
                    INSERT INTO \(unescaped: s).jobs (id, kind, priority, payload, state, max_attempts, retry_initial_ms, retry_multiplier,
                                                      retry_max_ms, retry_jitter, run_at, rank, timeout_ms, capabilities, unique_key, tags)
                    SELECT t.id, m.kind, m.priority, m.payload, 'available', m.max_attempts, m.retry_initial_ms, m.retry_multiplier,
                           m.retry_max_ms, m.retry_jitter, now(), \(unescaped: s).job_rank(now(), m.priority, \(configuration.levelMilliseconds)),
                           m.timeout_ms, m.capabilities, t.key, m.tags
                    FROM moved AS m, unnest(\(ids)::uuid[], \(ticks.map(schedule.key(of:)))::text[]) WITH ORDINALITY AS t (id, key, n)
                    ORDER BY t.n
                    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
                    RETURNING id
                )
                SELECT count(*)::int FROM inserted
                """, logger: logger)
        }
        return try await untilNextTick().map { max($0, .zero) }
    }

    /// How long until the earliest tick of the schedules not paused (zero or less: due).
    private func untilNextTick() async throws -> Duration? {
        let rows = try await query(
            "SELECT extract(epoch FROM min(next_run_at) - now())::float8 FROM \(unescaped: s).schedules WHERE NOT paused", logger: logger)
        var wait: Duration?
        for try await seconds in rows.decode(Double?.self) { wait = seconds.map { .milliseconds($0 * 1_000) } }
        return wait
    }

    private struct ScheduleRow {
        var state: ScheduleState
        var dueMicroseconds: Int64?
    }

    private func scheduleRows(where condition: String) async throws -> [ScheduleRow] {
        let rows = try await query(
            """
            SELECT name, cron, time_zone, missed, paused, (extract(epoch FROM next_run_at) * 1000000)::int8,
                   extract(epoch FROM last_run_at)::float8, last_job_id::text,
                   json_build_object('kind', kind, 'priority', priority, 'payload', payload, 'maxAttempts', max_attempts,
                                     'initialMs', retry_initial_ms, 'multiplier', retry_multiplier, 'maxMs', retry_max_ms,
                                     'jitter', retry_jitter, 'timeoutMs', timeout_ms, 'capabilities', capabilities, 'tags', tags)::text
            FROM \(unescaped: s).schedules WHERE \(unescaped: condition)
            """, logger: logger)
        var found: [ScheduleRow] = []
        for try await (name, cron, zone, missed, paused, next, last, lastJob, template) in rows.decode(
            (String, String, String, String, Bool, Int64?, Double?, String?, String).self)
        {
            guard let columns = try? JSONParser.parse(template),
                let schedule = try? Schedule(
                    name: name, cron: cron, timeZone: TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!, job: Self.job(columns),
                    missedTicks: Schedule.MissedTicks(rawValue: missed) ?? .skip, isPaused: paused)
            else { continue }
            found.append(
                ScheduleRow(
                    state: ScheduleState(
                        schedule: schedule, nextRun: next.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) },
                        lastRun: last.map { Date(timeIntervalSince1970: $0) }, lastJob: lastJob.map { JobID($0) }),
                    dueMicroseconds: next))
        }
        return found.sorted { $0.state.schedule.name < $1.state.schedule.name }
    }

    /// A schedule's job from its stored columns.
    private static func job(_ columns: JSONValue) -> Job {
        func number(_ key: String) -> Double { columns[key]?.doubleValue ?? 0 }
        func strings(_ key: String) -> [String] {
            guard case .array(let items)? = columns[key] else { return [] }
            return items.compactMap(\.stringValue)
        }
        var job = Job(
            kind: columns["kind"]?.stringValue ?? "", payload: .json(columns["payload"] ?? .null),
            priority: Priority(rawValue: Int(number("priority"))) ?? .normal,
            timeout: columns["timeoutMs"]?.doubleValue.map { .milliseconds($0) }, maxRetries: max(Int(number("maxAttempts")) - 1, 0),
            retryPolicy: RetryPolicy(
                initialDelay: .milliseconds(number("initialMs")), multiplier: number("multiplier"), maxDelay: .milliseconds(number("maxMs")),
                jitter: number("jitter")),
            requiredCapabilities: Set(strings("capabilities")))
        job.tags = strings("tags")
        return job
    }

    private func databaseNow() async throws -> Date {
        var now = Date()
        for try await seconds in try await query("SELECT extract(epoch FROM now())::float8", logger: logger).decode(Double.self) {
            now = Date(timeIntervalSince1970: seconds)
        }
        return now
    }

    static func microseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
}
