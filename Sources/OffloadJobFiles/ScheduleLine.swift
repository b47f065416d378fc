import Foundation
public import Offload

/// One line of a schedules file (JSON Lines), read into a ``Schedule``.
///
/// ```json
/// {"name":"nightly-report","cron":"0 3 * * *","timeZone":"Europe/Paris","missed":"runOnce",
///  "job":{"kind":"analytics","payload":{"file":"sales.jsonl"}}}
/// ```
/// `name`, `cron` and `job` (a job line, without `id`, `delayMs` or `runAt`) are required;
/// `timeZone` defaults to UTC, `missed` to `skip`, `paused` to false. An unknown key is an
/// error naming it.
public enum ScheduleLine {
    /// The keys a schedule line may have.
    public static let keys = ["name", "cron", "timeZone", "missed", "paused", "job"]

    /// Reads a schedule line parsed as JSON.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming the field that does not read;
    ///   ``OffloadError/Code/unknownKind`` for a job of a kind not in `knownKinds`.
    public static func parse(_ value: JSONValue, knownKinds: Set<String>) throws(OffloadError) -> Schedule {
        guard case .object(let members) = value else {
            throw OffloadError(.invalidPayload, "a schedule must be a JSON object, found \(value.typeDescription)")
        }
        if let unknown = members.first(where: { !keys.contains($0.key) }) {
            throw OffloadError(.invalidPayload, "unknown field \(OffloadError.quote(unknown.key)) (known: \(keys.joined(separator: ", ")))")
        }
        guard let name = value["name"]?.stringValue else { throw OffloadError(.invalidPayload, "name: a string is required") }
        guard let cron = value["cron"]?.stringValue else { throw OffloadError(.invalidPayload, "cron: a string is required") }
        var zone = TimeZone(identifier: "UTC")!
        switch value["timeZone"] {
        case nil, .null?: break
        case .string(let identifier)?:
            guard let named = TimeZone(identifier: identifier) else {
                throw OffloadError(.invalidPayload, "timeZone: \(OffloadError.quote(identifier)) is not a tz database zone (such as Europe/Paris)")
            }
            zone = named
        default: throw OffloadError(.invalidPayload, "timeZone: a string is required")
        }
        var missed = Schedule.MissedTicks.skip
        switch value["missed"] {
        case nil, .null?: break
        case .string(let text)? where Schedule.MissedTicks(rawValue: text) != nil: missed = Schedule.MissedTicks(rawValue: text)!
        default: throw OffloadError(.invalidPayload, "missed: \"skip\" or \"runOnce\"")
        }
        var paused = false
        switch value["paused"] {
        case nil, .null?: break
        case .bool(let flag)?: paused = flag
        default: throw OffloadError(.invalidPayload, "paused: true or false")
        }
        guard case .object(let jobMembers)? = value["job"] else { throw OffloadError(.invalidPayload, "job: a job line (an object) is required") }
        if let timed = jobMembers.first(where: { ["id", "delayMs", "runAt"].contains($0.key) }) {
            throw OffloadError(.invalidPayload, "job.\(timed.key): a schedule's job takes its id and its time from each tick")
        }
        if let linked = jobMembers.first(where: { ["dependsOn", "onDependencyFailure"].contains($0.key) }) {
            throw OffloadError(.invalidPayload, "job.\(linked.key): a schedule's jobs depend on no other job")
        }
        let job: Job
        switch JobLine.parse(.object(jobMembers), number: 1, knownKinds: knownKinds) {
        case .success(let parsed): job = parsed
        case .failure(let failure):
            let message = failure.error.message.hasPrefix("line 1: ") ? String(failure.error.message.dropFirst(8)) : failure.error.message
            throw OffloadError(failure.error.code, "job: \(message)")
        }
        do {
            return try Schedule(name: name, cron: cron, timeZone: zone, job: job, missedTicks: missed, isPaused: paused)
        } catch {
            throw OffloadError(
                error.code, ["name:", "job:", "cron:"].contains { error.message.hasPrefix($0) } ? error.message : "cron: \(error.message)")
        }
    }

    /// Reads a schedules file: one schedule a line (blank lines and lines starting with `#` skipped).
    /// - Throws: ``OffloadError`` naming the line and the field of the first that does not read.
    public static func parseFile(_ text: String, knownKinds: Set<String>) throws(OffloadError) -> [Schedule] {
        var schedules: [Schedule] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do {
                schedules.append(try parse(try JSONParser.parse(Array(trimmed.utf8)), knownKinds: knownKinds))
            } catch let error as OffloadError {
                throw OffloadError(error.code, "line \(index + 1): \(error.message)")
            } catch {
                throw OffloadError(.invalidPayload, "line \(index + 1): malformed JSON: \(error)")
            }
        }
        if let repeated = Dictionary(grouping: schedules, by: \.name).first(where: { $0.value.count > 1 }) {
            throw OffloadError(.invalidPayload, "the schedule \(OffloadError.quote(repeated.key)) is given twice")
        }
        return schedules
    }

    /// A schedule as the API and the command line show it: the fields of its line, then its next
    /// tick, its last tick run and that tick's job.
    public static func view(_ state: ScheduleState) -> JSONValue {
        let schedule = state.schedule
        var job: [(key: String, value: JSONValue)] = [("kind", .string(schedule.job.kind))]
        if let payload = try? schedule.job.payload.json() { job.append(("payload", payload)) }
        job.append(("priority", .string(schedule.job.priority.name)))
        if let timeout = schedule.job.timeout { job.append(("timeoutMs", .int(Int64(timeout.milliseconds)))) }
        if schedule.job.maxRetries > 0 { job.append(("maxRetries", .int(Int64(schedule.job.maxRetries)))) }
        let tags = schedule.job.tags.filter { $0 != schedule.tag }
        if !tags.isEmpty { job.append(("tags", .array(tags.map { .string($0) }))) }
        if !schedule.job.requiredCapabilities.isEmpty {
            job.append(("capabilities", .array(schedule.job.requiredCapabilities.sorted().map { .string($0) })))
        }
        func time(_ date: Date?) -> JSONValue { date.map { .string(ISO8601.format($0.timeIntervalSince1970)) } ?? .null }
        return .object([
            ("name", .string(schedule.name)), ("cron", .string(schedule.cron.expression)), ("timeZone", .string(schedule.timeZone.identifier)),
            ("missed", .string(schedule.missedTicks.rawValue)), ("paused", .bool(schedule.isPaused)), ("job", .object(job)),
            ("nextRun", time(state.nextRun)), ("lastRun", time(state.lastRun)), ("lastJob", state.lastJob.map { .string($0.rawValue) } ?? .null)
        ])
    }
}
