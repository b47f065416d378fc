/// A unit of work: what to run (`kind` and `payload`), how urgently, and what to do when it fails.
///
/// Typed, from a handler's type and a payload of its type:
///
/// ```swift
/// let job = Job(Resize.self, Resize.Payload(path: "a.png", width: 600), priority: .high, timeout: .seconds(5))
/// ```
///
/// Untyped, as job files give them (the kind by name, the payload as JSON):
///
/// ```swift
/// let job = Job(kind: "resize", payload: .json(["path": "a.png", "width": 600]), priority: .high,
///               timeout: .seconds(1), maxRetries: 2)
/// ```
public struct Job: Sendable {
    /// The job's identity; generated when not given.
    public var id: JobID
    /// The handler's kind name (`"image"`, `"debug.sleep"`…).
    public var kind: String
    /// How urgent the job is.
    public var priority: Priority
    /// The handler's input.
    public var payload: JobPayload
    /// How long one attempt may run; `nil` for the pool's ``PoolConfiguration/defaultTimeout``.
    /// It starts when the attempt starts.
    public var timeout: Duration?
    /// How many times a failed attempt is retried (0: one attempt only).
    public var maxRetries: Int
    /// The waits between attempts.
    public var retryPolicy: RetryPolicy
    /// The earliest time the job may start; `nil` to start as soon as a worker is free.
    public var runAt: ContinuousClock.Instant?
    /// Capabilities a worker must declare to run this job (besides the kind, under `capabilityBased`).
    public var requiredCapabilities: Set<String>
    /// When the job was made.
    public var createdAt: ContinuousClock.Instant
    /// The trace the job belongs to (W3C `traceparent`, …): set when it is submitted, from the
    /// submitter's context, when the program traces; kept as given otherwise.
    public var trace = TraceHeaders()
    /// Attempts made before this submission (by a durable queue's earlier claims): the pool
    /// counts on from there, so a handler's `context.attempt` is the job's, not the pool's.
    package var priorAttempts = 0
    /// Short labels to find the job by (`customer:42`, `nightly`): at most ``maxTags``, each 1 to
    /// ``maxTagBytes`` bytes of letters, digits and `- _ . : / = @`. Stores list jobs by tag.
    public var tags: [String] = []
    /// The jobs this one runs after: it waits (``JobState/waiting``) until each has ended, then
    /// is queued. Each must be known where the job is submitted (held, ended, or earlier in the
    /// same batch); at most ``maxDependencies``, none twice, not the job itself.
    public var dependsOn: [JobID] = []
    /// What happens when a job it depends on fails or is cancelled: by default it is cancelled
    /// too (``OffloadError/Code/dependencyFailed``, naming that job), and so are the jobs that
    /// depend on it; `.run` runs it once all have ended, however they ended.
    public var onDependencyFailure: DependencyFailurePolicy = .cancel

    /// The most jobs one job depends on.
    public static let maxDependencies = 1_000
    /// The most tags a job carries.
    public static let maxTags = 16
    /// The longest tag, in bytes.
    public static let maxTagBytes = 64
    /// Whether a durable queue holds the job's attempts: a snooze then ends the pool's run (the
    /// queue schedules it again) instead of queueing it in the pool.
    package var queueHoldsAttempts = false

    /// - Parameters:
    ///   - id: the job's identity (default: a generated one).
    ///   - kind: the handler's kind name.
    ///   - payload: the handler's input (default: none).
    ///   - priority: how urgent (default `.normal`).
    ///   - timeout: the limit on one attempt (default: the pool's default timeout).
    ///   - maxRetries: retries after a failed attempt (default 0).
    ///   - retryPolicy: waits between attempts (default: 100 ms doubling, capped at 30 s, ±20 %).
    ///   - delay: how long to wait before the job may start (default: none).
    ///   - requiredCapabilities: capabilities a worker must have (default: none).
    public init(
        id: JobID = .generate(),
        kind: String,
        payload: JobPayload = .none,
        priority: Priority = .normal,
        timeout: Duration? = nil,
        maxRetries: Int = 0,
        retryPolicy: RetryPolicy = RetryPolicy(),
        delay: Duration? = nil,
        requiredCapabilities: Set<String> = []
    ) {
        let now = ContinuousClock.now
        self.id = id
        self.kind = kind
        self.payload = payload
        self.priority = priority
        self.timeout = timeout
        self.maxRetries = maxRetries
        self.retryPolicy = retryPolicy
        self.runAt = delay.map { now + $0 }
        self.requiredCapabilities = requiredCapabilities
        self.createdAt = now
    }

    /// A job of handler `H`'s kind with a payload of its type (handed to the handler as it is in
    /// thread isolation, as JSON to a worker process). The other parameters are as for
    /// ``init(id:kind:payload:priority:timeout:maxRetries:retryPolicy:delay:requiredCapabilities:)``.
    public init<H: JobHandler>(
        _ handler: H.Type, _ payload: H.Payload, id: JobID = .generate(), priority: Priority = .normal, timeout: Duration? = nil,
        maxRetries: Int = 0, retryPolicy: RetryPolicy = RetryPolicy(), delay: Duration? = nil, requiredCapabilities: Set<String> = []
    ) {
        self.init(
            id: id, kind: H.kind, payload: .value(payload), priority: priority, timeout: timeout, maxRetries: maxRetries,
            retryPolicy: retryPolicy, delay: delay, requiredCapabilities: requiredCapabilities)
    }

    /// Checks the job's own fields (not its payload); the message names the field.
    public func validate() throws(OffloadError) {
        if kind.isEmpty { throw OffloadError(.invalidPayload, "kind must not be empty") }
        if let timeout, timeout <= .zero { throw OffloadError(.invalidPayload, "timeout must be positive") }
        if maxRetries < 0 { throw OffloadError(.invalidPayload, "maxRetries must not be negative") }
        try retryPolicy.validate()
        try Self.validate(tags: tags)
        try validateDependencies()
    }

    private func validateDependencies() throws(OffloadError) {
        guard !dependsOn.isEmpty else { return }
        guard dependsOn.count <= Self.maxDependencies else {
            throw OffloadError(.invalidDependency, "dependsOn: at most \(Self.maxDependencies) jobs (found \(dependsOn.count))")
        }
        var seen = Set<JobID>(minimumCapacity: dependsOn.count)
        for dependency in dependsOn {
            guard dependency != id else { throw OffloadError(.invalidDependency, "dependsOn: job \(id) cannot depend on itself") }
            guard seen.insert(dependency).inserted else {
                throw OffloadError(.invalidDependency, "dependsOn: job \(dependency) is named twice")
            }
        }
    }

    /// Checks tags against the rules of ``tags``.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming the first tag that breaks them.
    public static func validate(tags: [String]) throws(OffloadError) {
        guard tags.count <= maxTags else { throw OffloadError(.invalidPayload, "tags: at most \(maxTags) (found \(tags.count))") }
        for tag in tags {
            guard !tag.isEmpty, tag.utf8.count <= maxTagBytes, tag.utf8.allSatisfy(isTagByte) else {
                throw OffloadError(
                    .invalidPayload,
                    "tags: \(OffloadError.quote(tag)) is not a tag (1 to \(maxTagBytes) bytes of letters, digits and - _ . : / = @)")
            }
        }
    }

    private static func isTagByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "="),
            UInt8(ascii: "@"):
            true
        default: false
        }
    }
}
