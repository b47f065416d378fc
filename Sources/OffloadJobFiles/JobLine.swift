public import Offload

/// One line of a job file (JSON Lines), read into a ``Job``.
///
/// ```json
/// {"id":"a1","kind":"debug.sleep","priority":"high","delayMs":0,"timeoutMs":5000,"maxRetries":2,
///  "retryBackoff":{"initialMs":100,"multiplier":2,"maxMs":5000,"jitter":0.2},
///  "capabilities":[],"payload":{"ms":50}}
/// ```
/// `trace` carries the trace the job belongs to, as propagation headers
/// (`{"traceparent":"00-…-…-01"}`); `dependsOn` the ids of the jobs it runs after, and
/// `onDependencyFailure` (`"cancel"`, the default, or `"run"`) what it does when one fails.
/// Only `kind` is required; `id` defaults to the line number. An unknown key is an error naming it.
public enum JobLine {
    /// A line that could not become a job: the id and kind it would have had, and why.
    public struct Failure: Error, Sendable {
        public var id: JobID
        public var kind: String?
        public var error: OffloadError
    }

    /// The keys a job line may have.
    public static let keys = [
        "id", "kind", "priority", "delayMs", "runAt", "timeoutMs", "maxRetries", "retryBackoff", "capabilities", "tags", "dependsOn",
        "onDependencyFailure", "trace", "payload"
    ]
    static let backoffKeys = ["initialMs", "multiplier", "maxMs", "jitter"]

    /// Reads line `number` (1-based) of a job file.
    /// - Parameters:
    ///   - text: the line, without its newline.
    ///   - knownKinds: the kinds a pool runs; another kind fails `unknownKind`.
    ///   - now: the time `delayMs` and `runAt` count from.
    ///   - maxDelay: the furthest `delayMs` or `runAt` may put a job off (default a year).
    public static func parse(
        _ text: some Collection<UInt8>, number: Int, knownKinds: Set<String>,
        now: ContinuousClock.Instant = .now, maxDelay: Duration = .seconds(31_536_000)
    ) -> Result<Job, Failure> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            return .failure(
                Failure(id: JobID(String(number)), kind: nil, error: OffloadError(.invalidPayload, "line \(number): malformed JSON: \(error)")))
        }
        return parse(value, number: number, knownKinds: knownKinds, now: now, maxDelay: maxDelay)
    }

    /// Reads a job line already parsed as JSON (one job of a request's body): what
    /// ``parse(_:number:knownKinds:now:maxDelay:)`` does after parsing.
    public static func parse(
        _ value: JSONValue, number: Int, knownKinds: Set<String>,
        now: ContinuousClock.Instant = .now, maxDelay: Duration = .seconds(31_536_000)
    ) -> Result<Job, Failure> {
        let fallbackID = JobID(String(number))
        func fail(_ code: OffloadError.Code, _ message: String, id: JobID = fallbackID, kind: String? = nil) -> Result<Job, Failure> {
            .failure(Failure(id: id, kind: kind, error: OffloadError(code, "line \(number): \(message)")))
        }
        guard case .object(let members) = value else {
            return fail(.invalidPayload, "a job must be a JSON object, found \(value.typeDescription)")
        }
        let maxDelayMs = maxDelay.milliseconds
        // The id and kind first, so that every later error can name them.
        var id = fallbackID
        if let raw = value["id"] {
            guard case .string(let text) = raw, !text.isEmpty, text.utf8.count <= 1024 else {
                return fail(.invalidPayload, "id must be a non-empty string of at most 1,024 bytes")
            }
            id = JobID(text)
        }
        guard let rawKind = value["kind"] else { return fail(.invalidPayload, "kind is required", id: id) }
        guard case .string(let kind) = rawKind, !kind.isEmpty, kind.utf8.count <= 256 else {
            return fail(.invalidPayload, "kind must be a non-empty string of at most 256 bytes", id: id)
        }
        if let unknown = members.first(where: { !keys.contains($0.key) }) {
            let hint = JSONValueDecoder.suggestion(for: unknown.key, among: keys)
            return fail(.invalidPayload, "unknown key \(OffloadError.quote(unknown.key))\(hint)", id: id, kind: kind)
        }
        guard knownKinds.contains(kind) else {
            return fail(
                .unknownKind, "unknown kind \(OffloadError.quote(kind)) (known: \(knownKinds.sorted().joined(separator: ", ")))", id: id, kind: kind)
        }
        var job = Job(id: id, kind: kind, payload: .json(value["payload"] ?? .null))
        job.createdAt = now
        do throws(OffloadError) {
            if let raw = value["priority"] {
                guard case .string(let name) = raw, let priority = Priority(name: name) else {
                    let shown = raw.stringValue.map { OffloadError.quote($0) } ?? raw.typeDescription
                    throw OffloadError(.invalidPayload, "priority \(shown) is not one of critical, high, normal, low")
                }
                job.priority = priority
            }
            if let delay = try milliseconds(value["delayMs"], field: "delayMs", allowZero: true, max: maxDelayMs) {
                job.runAt = now + delay
            }
            if let raw = value["runAt"] {
                guard case .string(let text) = raw, let date = ISO8601.parse(text) else {
                    let shown = raw.stringValue.map { " (found \(OffloadError.quote($0)))" } ?? ""
                    throw OffloadError(.invalidPayload, "runAt must be an ISO 8601 time such as 2026-01-31T12:00:00Z\(shown)")
                }
                let wait = date - ISO8601.nowSeconds()
                guard wait * 1_000 <= maxDelayMs else {
                    throw OffloadError(
                        .invalidPayload,
                        "runAt \(OffloadError.quote(text)) is further off than the most a job may wait (\(Self.describe(milliseconds: maxDelayMs)))")
                }
                job.runAt = wait > 0 ? now + .microseconds(Int64(wait * 1_000_000)) : now
            }
            job.timeout = try milliseconds(value["timeoutMs"], field: "timeoutMs", allowZero: false, max: 31_536_000_000)
            if let raw = value["maxRetries"] {
                guard case .int(let retries) = raw, retries >= 0, retries <= 1_000 else {
                    throw OffloadError(.invalidPayload, "maxRetries must be an integer from 0 to 1000")
                }
                job.maxRetries = Int(retries)
            }
            if let raw = value["retryBackoff"] { job.retryPolicy = try backoff(raw) }
            if let raw = value["capabilities"] {
                guard case .array(let items) = raw else { throw OffloadError(.invalidPayload, "capabilities must be an array of strings") }
                job.requiredCapabilities = Set(
                    try items.map { item throws(OffloadError) in
                        guard case .string(let name) = item, !name.isEmpty else {
                            throw OffloadError(.invalidPayload, "capabilities must be an array of non-empty strings")
                        }
                        return name
                    })
            }
            if let raw = value["tags"], raw != .null {
                guard case .array(let items) = raw else { throw OffloadError(.invalidPayload, "tags must be an array of strings") }
                var tags: [String] = []
                for item in items {
                    guard case .string(let tag) = item else { throw OffloadError(.invalidPayload, "tags must be an array of strings") }
                    tags.append(tag)
                }
                // Checked as given (as Swift's Job.tags are), then kept once each.
                try Job.validate(tags: tags)
                job.tags = tags.reduce(into: []) { kept, tag in if !kept.contains(tag) { kept.append(tag) } }
            }
            if let raw = value["dependsOn"], raw != .null {
                guard case .array(let items) = raw else { throw OffloadError(.invalidPayload, "dependsOn must be an array of job ids") }
                job.dependsOn = try items.map { item throws(OffloadError) in
                    guard case .string(let text) = item, !text.isEmpty, text.utf8.count <= 1024 else {
                        throw OffloadError(.invalidPayload, "dependsOn must be an array of job ids (non-empty strings of at most 1,024 bytes)")
                    }
                    return JobID(text)
                }
            }
            if let raw = value["onDependencyFailure"], raw != .null {
                guard case .string(let name) = raw, let policy = DependencyFailurePolicy(rawValue: name) else {
                    throw OffloadError(.invalidPayload, "onDependencyFailure must be \"cancel\" or \"run\"")
                }
                job.onDependencyFailure = policy
            }
            if let raw = value["trace"], raw != .null {
                guard case .object(let members) = raw else {
                    throw OffloadError(.invalidPayload, "trace must be an object of header names and values")
                }
                var headers: [String: String] = [:]
                for (name, value) in members {
                    guard case .string(let text) = value else {
                        throw OffloadError(.invalidPayload, "trace header \(OffloadError.quote(name)) must be a string")
                    }
                    headers[name] = text
                }
                job.trace = try TraceHeaders(headers)
            }
            try job.validate()
        } catch {
            return fail(error.code, error.message, id: id, kind: kind)
        }
        return .success(job)
    }

    private static func milliseconds(_ raw: JSONValue?, field: String, allowZero: Bool, max: Double) throws(OffloadError) -> Duration? {
        guard let raw, raw != .null else { return nil }
        guard let number = raw.doubleValue, number.isFinite else {
            throw OffloadError(.invalidPayload, "\(field) must be a number of milliseconds, found \(raw.typeDescription)")
        }
        if number < 0 || (!allowZero && number == 0) {
            throw OffloadError(.invalidPayload, "\(field) must be \(allowZero ? "zero or more" : "positive"), found \(number)")
        }
        guard number <= max else { throw OffloadError(.invalidPayload, "\(field) must be at most \(describe(milliseconds: max)), found \(number)") }
        return .microseconds(Int64(number * 1_000))
    }

    /// `86400000` → `86,400,000 ms (24 h)`.
    static func describe(milliseconds: Double) -> String {
        let hours = milliseconds / 3_600_000
        let shown = hours >= 1 ? " (\(hours.rounded() == hours ? String(Int(hours)) : String(hours)) h)" : ""
        return "\(OffloadError.grouped(Int(milliseconds))) ms\(shown)"
    }

    private static func backoff(_ raw: JSONValue) throws(OffloadError) -> RetryPolicy {
        guard case .object(let members) = raw else { throw OffloadError(.invalidPayload, "retryBackoff must be an object") }
        if let unknown = members.first(where: { !backoffKeys.contains($0.key) }) {
            throw OffloadError(
                .invalidPayload, "retryBackoff: unknown key '\(unknown.key)'\(JSONValueDecoder.suggestion(for: unknown.key, among: backoffKeys))")
        }
        var policy = RetryPolicy()
        if let initial = try milliseconds(raw["initialMs"], field: "retryBackoff.initialMs", allowZero: true, max: 86_400_000) {
            policy.initialDelay = initial
        }
        if let cap = try milliseconds(raw["maxMs"], field: "retryBackoff.maxMs", allowZero: true, max: 86_400_000) { policy.maxDelay = cap }
        if let value = raw["multiplier"] {
            guard let number = value.doubleValue else { throw OffloadError(.invalidPayload, "retryBackoff.multiplier must be a number") }
            policy.multiplier = number
        }
        if let value = raw["jitter"] {
            guard let number = value.doubleValue else { throw OffloadError(.invalidPayload, "retryBackoff.jitter must be a number") }
            policy.jitter = number
        }
        try policy.validate()
        return policy
    }
}
