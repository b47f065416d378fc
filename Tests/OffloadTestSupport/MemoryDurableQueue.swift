import Synchronization
@testable public import Offload

/// A durable queue in memory, for testing ``QueueServer`` without a database: claims in
/// submission order under a lease owner, fenced ends (id, attempt, owner), hand-backs, cancel
/// requests reported by heartbeats, and a database that can be made to refuse a value
/// (`refuses`), as PostgreSQL refuses what it cannot hold.
public final class MemoryDurableQueue: DurableQueue {
    public enum State: String, Sendable { case available, running, completed, failed, cancelled }

    public struct Stored: Sendable {
        public var job: Job
        public var state: State = .available
        public var attempt = 0
        public var maxAttempts: Int
        public var owner: String?
        public var cancelRequested = false
        public var result: JSONValue?
        public var error: OffloadError?
        /// The steps its hosts recorded (``record(_:host:)``).
        public var steps: [JobEvent] = []
    }

    /// What a statement meets while the "database" is away.
    public struct Unreachable: Error {}

    private struct Contents {
        var away = false
        var jobs: [JobID: Stored] = [:]
        var order: [JobID] = []
        var finishCalls = 0
        var refusedCalls = 0
        var cancelListeners: [Int: AsyncStream<JobID>.Continuation] = [:]
        var nextListener = 0
    }

    private let contents = Mutex(Contents())
    private let arrived = Wakeup()
    /// Whether the "database" refuses a batch holding this end (the whole statement fails).
    private let refuses: @Sendable (JobEnd) -> Bool
    public let maxArtifactBytes = 1 << 20

    public init(refuses: @escaping @Sendable (JobEnd) -> Bool = { _ in false }) {
        self.refuses = refuses
    }

    public func submit(_ jobs: [Job], maxAttempts: Int = 1) {
        contents.withLock { contents in
            for job in jobs {
                contents.jobs[job.id] = Stored(job: job, maxAttempts: maxAttempts)
                contents.order.append(job.id)
            }
        }
        arrived.signal()
    }

    public func stored(_ id: JobID) -> Stored? { contents.withLock { $0.jobs[id] } }

    /// Calls of ``finish(_:)`` so far, and those refused.
    public var finishCalls: (all: Int, refused: Int) { contents.withLock { ($0.finishCalls, $0.refusedCalls) } }

    public func requestCancel(_ id: JobID) {
        let listeners = contents.withLock { contents in
            contents.jobs[id]?.cancelRequested = true
            return contents.cancelListeners.values
        }
        for listener in listeners { listener.yield(id) }
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

    /// While away, every statement fails as with a lost connection (ends are tried again).
    public var isAway: Bool {
        get { contents.withLock { $0.away } }
        set { contents.withLock { $0.away = newValue } }
    }

    public func claim(_ request: ClaimRequest) async throws -> [ClaimedJob] {
        contents.withLock { contents in
            var claimed: [ClaimedJob] = []
            for id in contents.order where claimed.count < request.limit {
                guard var stored = contents.jobs[id], stored.state == .available, request.kinds.contains(stored.job.kind),
                      stored.job.requiredCapabilities.isSubset(of: request.capabilities) else { continue }
                stored.state = .running
                stored.attempt += 1
                stored.owner = request.host
                contents.jobs[id] = stored
                var job = stored.job
                job.maxRetries = 0
                claimed.append(ClaimedJob(job: job, attempt: stored.attempt, maxAttempts: stored.maxAttempts, owner: request.host))
            }
            return claimed
        }
    }

    private static func holds(_ stored: Stored?, _ claimed: ClaimedJob) -> Bool {
        stored?.state == .running && stored?.attempt == claimed.attempt && stored?.owner == claimed.owner
    }

    public func renew(_ jobs: [ClaimedJob], host: String) async throws -> LeaseRenewal {
        contents.withLock { contents in
            var renewal = LeaseRenewal()
            for claimed in jobs {
                let stored = contents.jobs[claimed.job.id]
                if !Self.holds(stored, claimed) { renewal.lost.insert(claimed.job.id) } else if stored!.cancelRequested {
                    renewal.cancelRequested.insert(claimed.job.id)
                }
            }
            return renewal
        }
    }

    public func finish(_ ends: [JobEnd]) async throws -> [FinishResult] {
        try contents.withLock { contents throws in
            contents.finishCalls += 1
            if contents.away { throw Unreachable() }
            if ends.contains(where: refuses) {
                contents.refusedCalls += 1
                throw OffloadError(.unstorable, "the queue's database cannot hold a value of this job (a test's refusal)")
            }
            return ends.map { end in
                guard var stored = contents.jobs[end.claimed.job.id], Self.holds(stored, end.claimed) else { return .leaseLost }
                stored.owner = nil
                if end.retries {
                    stored.state = .available
                    contents.jobs[end.claimed.job.id] = stored
                    return .retryScheduled
                }
                stored.state = switch end.outcome.status {
                case .completed: .completed
                case .failed: .failed
                case .cancelled: .cancelled
                }
                stored.result = try? end.outcome.result?.json()
                stored.error = end.outcome.error
                contents.jobs[end.claimed.job.id] = stored
                return .recorded
            }
        }
    }

    public func record(_ steps: [JobEvent], host: String) async throws {
        try contents.withLock { contents throws in
            if contents.away { throw Unreachable() }
            for step in steps {
                guard let stored = contents.jobs[step.job], stored.state == .running, stored.owner == host, stored.attempt == step.attempt else { continue }
                contents.jobs[step.job]!.steps.append(step)
            }
        }
    }

    public func release(_ jobs: [ClaimedJob]) async throws {
        contents.withLock { contents in
            for claimed in jobs where Self.holds(contents.jobs[claimed.job.id], claimed) {
                contents.jobs[claimed.job.id]!.state = .available
                contents.jobs[claimed.job.id]!.attempt -= 1
                contents.jobs[claimed.job.id]!.owner = nil
            }
        }
        arrived.signal()
    }

    public func waitForWork(_ request: ClaimRequest, timeout: Duration) async {
        await arrived.wait(timeout: timeout)
    }

    public func storeArtifact(_ bytes: [UInt8], contentType: String, name: String, job: ClaimedJob) async throws -> Artifact {
        Artifact(sha256: SHA256.hex(bytes), contentType: contentType, size: bytes.count)
    }

    public func maintain() async throws {}
}
