import Synchronization

/// A ``DurableQueue`` in memory, with PostgreSQL's semantics and none of its durability: claims in
/// the queue's order (priority with aging, delays) under leases its own clock times, ends fenced by
/// the claim (id, attempt, lease owner), retries at ``RetryPolicy`` times without using the pool's,
/// cancels, hand-backs, steps recorded, and a rescuer (``maintain()``) for leases that expired.
/// Every job keeps its history as ``JobEvent``s.
///
/// For tests of code that serves or submits to a durable queue, in milliseconds and without a
/// database; several ``QueueServer``s may share one, as hosts share PostgreSQL.
public final class MemoryDurableQueue: DurableQueue, Sendable {
    /// How the queue orders and leases jobs.
    public struct Configuration: Sendable {
        /// How long a claim holds without a renewal.
        public var leaseDuration: Duration
        /// The order of ready jobs: by priority with aging, or first in, first out.
        public var ordering: QueueOrdering
        /// The wait that raises a ready job by one level; `nil`: no aging.
        public var agingInterval: Duration?
        /// The largest file ``storeArtifact(_:contentType:name:job:)`` keeps, in bytes.
        public var maxArtifactBytes: Int

        public init(
            leaseDuration: Duration = .seconds(30), ordering: QueueOrdering = .priority, agingInterval: Duration? = .seconds(10),
            maxArtifactBytes: Int = 1 << 20
        ) {
            self.leaseDuration = leaseDuration
            self.ordering = ordering
            self.agingInterval = agingInterval
            self.maxArtifactBytes = maxArtifactBytes
        }
    }

    /// A job as the queue holds it.
    public struct Entry: Sendable {
        public var job: Job
        public var state: JobState
        /// The attempts claimed so far (the running one included).
        public var attempt = 0
        public var maxAttempts: Int
        /// The host holding the lease, while it runs.
        public var owner: String?
        public var leaseExpiresAt: ContinuousClock.Instant?
        public var cancelRequested = false
        /// When it is due (a delay, or its next retry).
        public var runAt: ContinuousClock.Instant
        /// Its place in the claim order: earlier first (``QueueOrdering/rank(readyAt:priority:level:)``).
        public var rank: ContinuousClock.Instant
        public var result: JSONValue?
        public var error: OffloadError?
        /// Its history, oldest first.
        public var history: [JobEvent] = []
        fileprivate var sequence: Int
    }

    /// What a statement meets while the "database" is away (``isAway``).
    package struct Unreachable: Error {}

    private struct Contents {
        var jobs: [JobID: Entry] = [:]
        var nextSequence = 0
        var artifacts: [String: [UInt8]] = [:]
        var cancelListeners: [Int: AsyncStream<JobID>.Continuation] = [:]
        var nextListener = 0
        var away = false
        var gate = KindGate([:])
        var finishCalls = 0
        var refusedCalls = 0
    }

    public let configuration: Configuration
    public var maxArtifactBytes: Int { configuration.maxArtifactBytes }
    private let contents = Mutex(Contents())
    private let arrived = Wakeup()
    /// Whether the "database" refuses a batch holding this end (the whole statement fails).
    private let refuses: @Sendable (JobEnd) -> Bool

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        refuses = { _ in false }
    }

    /// A queue whose "database" refuses any batch of ends holding one `refuses` matches, as
    /// PostgreSQL refuses a value it cannot hold.
    package init(configuration: Configuration = Configuration(), refuses: @escaping @Sendable (JobEnd) -> Bool) {
        self.configuration = configuration
        self.refuses = refuses
    }

    private var level: Duration { configuration.ordering.level(agingInterval: configuration.agingInterval) }

    // MARK: - Submitting and reading

    /// Queues jobs (delayed ones scheduled for their `runAt`); each may make `maxRetries + 1`
    /// attempts, waiting its `retryPolicy` between them.
    @discardableResult
    public func submit(_ jobs: [Job]) -> [JobID] {
        let now = ContinuousClock.now
        let at = Timestamp.now
        contents.withLock { contents in
            for job in jobs {
                let due = max(job.runAt ?? now, now)
                var entry = Entry(
                    job: job, state: due > now ? .scheduled : .queued, maxAttempts: job.maxRetries + 1, runAt: due,
                    rank: QueueOrdering.rank(readyAt: due, priority: job.priority, level: level),
                    sequence: contents.nextSequence)
                contents.nextSequence += 1
                entry.history.append(JobEvent(job: job.id, at: at, step: due > now ? .scheduled(runAt: at.adding(due - now)) : .queued))
                contents.jobs[job.id] = entry
            }
        }
        arrived.signal()
        return jobs.map(\.id)
    }

    /// The job as the queue holds it now.
    public func entry(_ id: JobID) -> Entry? { contents.withLock { $0.jobs[id] } }

    /// Cancels a job: a waiting one at once, a running one by asking its host (which hears of it
    /// through ``cancelRequests()`` and its heartbeat).
    @discardableResult
    public func cancel(_ id: JobID) -> CancelAnswer {
        let (answer, listeners) = contents.withLock { contents -> (CancelAnswer, [AsyncStream<JobID>.Continuation]) in
            guard var entry = contents.jobs[id] else { return (.notFound, []) }
            switch entry.state {
            case .waiting, .queued, .scheduled:
                let error = OffloadError(.cancelled, "cancelled before it started")
                entry.state = .cancelled
                entry.error = error
                entry.history.append(JobEvent(job: id, at: .now, step: .cancelled(error)))
                contents.jobs[id] = entry
                return (.cancelled, [])
            case .running:
                entry.cancelRequested = true
                entry.history.append(JobEvent(job: id, at: .now, step: .cancelRequested, attempt: entry.attempt))
                contents.jobs[id] = entry
                return (.requested, Array(contents.cancelListeners.values))
            case .completed, .failed, .cancelled:
                return (.alreadyFinished, [])
            }
        }
        for listener in listeners { listener.yield(id) }
        return answer
    }

    /// While away, every statement fails as with a lost connection.
    package var isAway: Bool {
        get { contents.withLock { $0.away } }
        set { contents.withLock { $0.away = newValue } }
    }

    /// Calls of ``finish(_:)`` so far, and those refused.
    package var finishCalls: (all: Int, refused: Int) { contents.withLock { ($0.finishCalls, $0.refusedCalls) } }

    // MARK: - DurableQueue

    public func claim(_ request: ClaimRequest) async throws -> [ClaimedJob] {
        let now = ContinuousClock.now
        return try contents.withLock { contents throws in
            if contents.away { throw Unreachable() }
            let ready = contents.jobs.values.filter { entry in
                (entry.state == .queued || entry.state == .scheduled) && entry.runAt <= now && request.kinds.contains(entry.job.kind)
                    && entry.job.requiredCapabilities.isSubset(of: request.capabilities)
            }
            .sorted { ($0.rank, $0.sequence) < ($1.rank, $1.sequence) }
            // The kinds' limits, across hosts, and the claiming host's own.
            var running: [String: Int] = [:]
            for entry in contents.jobs.values where entry.state == .running { running[entry.job.kind, default: 0] += 1 }
            var room = request.localRoom
            var taken: [Entry] = []
            for entry in ready where taken.count < request.limit {
                let kind = entry.job.kind
                guard room[kind].map({ $0 > 0 }) ?? true, contents.gate.admits(kind, now: now, running: { running[$0] ?? 0 }) else { continue }
                contents.gate.started(kind, now: now)
                running[kind, default: 0] += 1
                room[kind]? -= 1
                taken.append(entry)
            }
            return taken.map { ready in
                var entry = ready
                entry.state = .running
                entry.attempt += 1
                entry.owner = request.host
                entry.leaseExpiresAt = now + configuration.leaseDuration
                entry.cancelRequested = false
                entry.history.append(JobEvent(job: entry.job.id, at: .now, step: .started, attempt: entry.attempt, host: request.host))
                contents.jobs[entry.job.id] = entry
                var job = entry.job
                job.maxRetries = 0
                job.runAt = nil
                job.priorAttempts = entry.attempt - 1
                return ClaimedJob(job: job, attempt: entry.attempt, maxAttempts: entry.maxAttempts, owner: request.host)
            }
        }
    }

    private static func holds(_ entry: Entry?, _ claimed: ClaimedJob) -> Bool {
        entry?.state == .running && entry?.attempt == claimed.attempt && entry?.owner == claimed.owner
    }

    public func renew(_ jobs: [ClaimedJob], host: String) async throws -> LeaseRenewal {
        let expires = ContinuousClock.now + configuration.leaseDuration
        return try contents.withLock { contents throws in
            if contents.away { throw Unreachable() }
            var renewal = LeaseRenewal()
            for claimed in jobs {
                guard Self.holds(contents.jobs[claimed.job.id], claimed), claimed.owner == host else {
                    renewal.lost.insert(claimed.job.id)
                    continue
                }
                contents.jobs[claimed.job.id]!.leaseExpiresAt = expires
                if contents.jobs[claimed.job.id]!.cancelRequested { renewal.cancelRequested.insert(claimed.job.id) }
            }
            return renewal
        }
    }

    public func finish(_ ends: [JobEnd]) async throws -> [FinishResult] {
        let now = ContinuousClock.now
        let at = Timestamp.now
        let results = try contents.withLock { contents throws -> [FinishResult] in
            contents.finishCalls += 1
            if contents.away { throw Unreachable() }
            if ends.contains(where: refuses) {
                contents.refusedCalls += 1
                throw OffloadError(.unstorable, "the queue's database cannot hold a value of this job (a test's refusal)")
            }
            return ends.map { end in
                let id = end.claimed.job.id
                guard var entry = contents.jobs[id], Self.holds(entry, end.claimed) else {
                    contents.jobs[id]?.history.append(
                        JobEvent(
                            job: id, at: at, step: .leaseLost(message: "the claim no longer holds"),
                            attempt: end.claimed.attempt, host: end.claimed.owner))
                    return .leaseLost
                }
                entry.owner = nil
                entry.leaseExpiresAt = nil
                defer { contents.jobs[id] = entry }
                if let delay = end.snooze {
                    // The job's last error stays; the attempt it made is added to its most.
                    let due = now + delay
                    entry.state = .scheduled
                    entry.runAt = due
                    entry.maxAttempts += 1
                    entry.rank = QueueOrdering.rank(readyAt: due, priority: entry.job.priority, level: level)
                    entry.history.append(
                        JobEvent(
                            job: id, at: at, step: .snoozed(until: at.adding(delay), reason: end.outcome.error?.message ?? ""),
                            attempt: end.claimed.attempt, host: end.claimed.owner))
                    return .retryScheduled
                }
                entry.error = end.outcome.error
                if end.retries, let error = end.outcome.error {
                    let due = now + entry.job.retryPolicy.delay(beforeRetry: end.claimed.attempt)
                    entry.state = .scheduled
                    entry.runAt = due
                    entry.rank = QueueOrdering.rank(readyAt: due, priority: entry.job.priority, level: level)
                    entry.history.append(
                        JobEvent(
                            job: id, at: at, step: .retryScheduled(at: at.adding(due - now), error: error),
                            attempt: end.claimed.attempt, host: end.claimed.owner))
                    return .retryScheduled
                }
                entry.state = JobState(end.outcome.status)
                if end.outcome.status == .completed { entry.result = try? end.outcome.result?.json() }
                entry.history.append(
                    JobEvent(job: id, at: at, step: .ending(end.outcome), attempt: end.claimed.attempt, host: end.claimed.owner))
                return .recorded
            }
        }
        // A retry is work; so is the room an end leaves under a limit on running jobs.
        if results.contains(.retryScheduled) || contents.withLock({ $0.gate.limits.values.contains { $0.maxConcurrent != nil } }) {
            arrived.signal()
        }
        return results
    }

    public func record(_ steps: [JobEvent], host: String) async throws {
        try contents.withLock { contents throws in
            if contents.away { throw Unreachable() }
            for step in steps {
                guard let entry = contents.jobs[step.job], entry.state == .running, entry.owner == host, entry.attempt == step.attempt else {
                    continue
                }
                contents.jobs[step.job]!.history.append(step)
            }
        }
    }

    public func cancelRequests() -> AsyncStream<JobID> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobID.self, bufferingPolicy: .bufferingNewest(1_000))
        let key = contents.withLock { contents in
            defer { contents.nextListener += 1 }
            contents.cancelListeners[contents.nextListener] = continuation
            return contents.nextListener
        }
        continuation.onTermination = { [weak self] _ in _ = self?.contents.withLock { $0.cancelListeners.removeValue(forKey: key) } }
        return stream
    }

    public func release(_ jobs: [ClaimedJob]) async throws {
        let now = ContinuousClock.now
        try contents.withLock { contents throws in
            if contents.away { throw Unreachable() }
            for claimed in jobs where Self.holds(contents.jobs[claimed.job.id], claimed) {
                var entry = contents.jobs[claimed.job.id]!
                entry.state = .queued
                entry.attempt -= 1
                entry.owner = nil
                entry.leaseExpiresAt = nil
                entry.runAt = min(entry.runAt, now)
                entry.history.append(JobEvent(job: entry.job.id, at: .now, step: .released, attempt: claimed.attempt, host: claimed.owner))
                contents.jobs[claimed.job.id] = entry
            }
        }
        arrived.signal()
    }

    public func kindLimits() async throws -> [String: KindLimits] { contents.withLock { $0.gate.limits } }

    public func setLimits(_ limits: KindLimits, for kind: String) async throws {
        try limits.validate()
        contents.withLock { $0.gate.set(limits, for: kind) }
        arrived.signal()
    }

    public func waitForWork(_ request: ClaimRequest, timeout: Duration) async {
        let now = ContinuousClock.now
        let nextDue = contents.withLock { contents in
            let due = contents.jobs.values.lazy.filter { $0.state == .scheduled && request.kinds.contains($0.job.kind) }.map(\.runAt).min()
            // A kind held back by its rate opens then.
            let opens = contents.gate.closedKinds(now: now) { _ in 0 }.opensAt
            return [due, opens].compactMap { $0 }.min()
        }
        await arrived.wait(timeout: min(timeout, max((nextDue ?? now + timeout) - now, .zero)))
    }

    public func storeArtifact(_ bytes: [UInt8], contentType: String, name: String, job: ClaimedJob) async throws -> Artifact {
        guard bytes.count <= maxArtifactBytes else {
            throw OffloadError(.resourceLimitExceeded, "\(name) is over the queue's artifact cap of \(OffloadError.grouped(maxArtifactBytes)) bytes")
        }
        let sha256 = SHA256.hex(bytes)
        try contents.withLock { contents throws in
            if contents.away { throw Unreachable() }
            contents.artifacts[sha256] = bytes
        }
        return Artifact(sha256: sha256, contentType: contentType, size: bytes.count)
    }

    /// The bytes of a stored artifact.
    public func artifact(_ sha256: String) -> [UInt8]? { contents.withLock { $0.artifacts[sha256] } }

    /// Jobs whose lease expired go back to the queue (`rescued`), or end when their attempts are
    /// spent (`failed`) or a cancel was asked for (`cancelled`).
    public func maintain() async throws {
        let now = ContinuousClock.now
        let rescued = try contents.withLock { contents throws -> Bool in
            if contents.away { throw Unreachable() }
            var rescued = false
            for (id, entry) in contents.jobs where entry.state == .running && (entry.leaseExpiresAt ?? now) < now {
                var entry = entry
                let owner = entry.owner ?? "?"
                let message = "attempt \(entry.attempt) on \(owner) stopped renewing its lease (the host died or lost the database)"
                entry.owner = nil
                entry.leaseExpiresAt = nil
                if entry.cancelRequested {
                    entry.state = .cancelled
                    entry.error = OffloadError(.cancelled, message)
                    entry.history.append(JobEvent(job: id, at: .now, step: .cancelled(entry.error!), attempt: entry.attempt))
                } else if entry.attempt >= entry.maxAttempts {
                    entry.state = .failed
                    entry.error = OffloadError(.leaseExpired, message)
                    entry.history.append(JobEvent(job: id, at: .now, step: .failed(entry.error!), attempt: entry.attempt))
                } else {
                    entry.state = .queued
                    entry.runAt = now
                    entry.rank = QueueOrdering.rank(readyAt: now, priority: entry.job.priority, level: level)
                    entry.history.append(JobEvent(job: id, at: .now, step: .rescued(message: message), attempt: entry.attempt))
                    rescued = true
                }
                contents.jobs[id] = entry
            }
            return rescued
        }
        if rescued { arrived.signal() }
    }
}
