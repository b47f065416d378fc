import Foundation
public import Offload
public import ServiceLifecycle
import Synchronization

/// The jobs `offload serve` shows and takes, over one of two backends — a pool in this process
/// (``MemoryBackend``) or a durable queue several hosts share (`QueueBackend`, in
/// `OffloadServerPostgres`) — with what both share: the feed of changes the dashboard follows,
/// the overview's workers and latencies (this host's pools), and the bounds of every stream.
///
/// Run it as a service beside its pools: it runs its backend (following the pool, or the queue's
/// changes) until the service group shuts down.
///
/// Lock: `cpu` is a leaf; the feed's own lock too.
public final class JobStore: Service, Sendable {
    public let backend: any JobBackend
    /// This host's pool: its workers and latencies are the overview's.
    public let pool: WorkerPool
    /// The pool cards are drawn in, shown beside the others (`card-w1`…).
    public let cardPool: WorkerPool?
    /// The bounds of each event stream.
    public let streamLimits: StreamLimits
    /// Every change of a job, for the dashboard's streams.
    let feed: ChangeFeed
    /// Jobs ended, retried and preempted, and their times, by pool and kind (for `/metrics`).
    let jobMetrics = JobMetrics()
    private let cpu = Mutex(WorkerCPU())

    public init(backend: any JobBackend, pool: WorkerPool, cardPool: WorkerPool? = nil, streamLimits: StreamLimits = StreamLimits()) {
        self.backend = backend
        self.pool = pool
        self.cardPool = cardPool
        self.streamLimits = streamLimits
        feed = ChangeFeed(limits: streamLimits)
        jobMetrics.observe(pool)
        if let cardPool { jobMetrics.observe(cardPool) }
    }

    /// `memory` or `postgres`, as the overview shows it.
    public var mode: String { backend.mode }
    /// The kinds a job may name.
    public var kinds: [String] { pool.registry.kinds }

    public func run() async throws {
        try await backend.run(changes: feed)
        feed.finish()
    }

    /// Refuses a job the backend cannot hold, before anything is queued.
    public func check(_ job: Job) throws(OffloadError) { try backend.check(job) }

    /// Queues the jobs, in order, and returns their ids.
    /// - Throws: ``OffloadError``: `duplicateJob` when an id is taken (then no job of the lot is
    ///   queued), `shuttingDown`, `queueFull` (the store is full: retry later), `noCapableWorker`.
    public func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID] { try await backend.submit(jobs) }

    /// The job as it is now, or `nil` when the store does not know it (or no longer keeps it).
    public func job(_ id: JobID) async throws -> JobView? { try await backend.job(id) }

    /// A page of jobs, newest first.
    public func jobs(_ query: JobQuery) async throws -> JobPage { try await backend.jobs(query) }

    /// Waits up to `timeout` for the job to end, and returns it as it is then.
    public func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView? { try await backend.waitForEnd(id, timeout: timeout) }

    public func cancel(_ id: JobID) async throws -> CancelAnswer { try await backend.cancel(id) }

    /// Queues a failed or cancelled job again under its id; `false` when it is not such a job.
    public func retry(_ id: JobID) async throws -> Bool { try await backend.retry(id) }

    /// The job's events so far, then each new one until the job ends, within the stream limits
    /// (a reader that falls behind is told so and the stream ends); `nil` for an unknown job.
    /// The reader calls `end()` when it leaves.
    public func events(of id: JobID) async throws -> BoundedStream<JobEvent>? {
        try await backend.events(of: id, limits: streamLimits)
    }

    /// Every change of any job, as it happens, without payloads and results, within the stream limits.
    public func changes() -> BoundedStream<JobView> { feed.follow() }

    /// A file a job produced, by the SHA-256 of its bytes.
    public func artifact(_ sha256: String) async throws -> StoredFile? { try await backend.artifact(sha256) }

    /// Draws a card (an `image` job) and returns its bytes and type; `key` names what it draws.
    /// - Throws: ``OffloadError``: the job's error; `timedOut` past `timeout` (the job is then cancelled).
    public func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String) {
        try await backend.render(job, key: key, timeout: timeout)
    }

    /// The backend's counts, this host's workers (with the CPU each used since the last
    /// overview) and the latencies of this host's pool.
    public func overview() async throws -> Overview {
        var overview = try await backend.counts()
        let metrics = pool.metrics
        if metrics.completed + metrics.failed > 0 {
            (overview.waitP50, overview.waitP99, overview.runP50, overview.runP99) = (
                metrics.waitP50, metrics.waitP99, metrics.runP50, metrics.runP99
            )
        }
        let workers = metrics.perWorker + WorkerCPU.cardWorkers(of: cardPool)
        overview.workers = cpu.withLock { $0.workers(workers) }
        return overview
    }

    /// Whether jobs can be taken now (the pool is running; the queue answers).
    public func isReady() async -> Bool { await backend.isReady() }

    /// The limits of each kind that has some.
    public func kindLimits() async throws -> [String: KindLimits] { try await backend.kindLimits() }

    /// Sets a kind's limits (in memory, the pool's; on PostgreSQL, the queue's, across its hosts).
    public func setLimits(_ limits: KindLimits, for kind: String) async throws { try await backend.setLimits(limits, for: kind) }

    /// Pauses a kind or resumes it, its other limits kept.
    public func setPaused(_ paused: Bool, kind: String) async throws { try await backend.setPaused(paused, kind: kind) }

    /// The periodic jobs (the pool's in memory, the queue's on PostgreSQL).
    public func schedules() async throws -> [ScheduleState] { try await backend.schedules() }

    /// Adds a schedule, or replaces the one of its name.
    public func addSchedule(_ schedule: Schedule) async throws { try await backend.addSchedule(schedule) }

    /// Removes a schedule; whether there was one.
    public func removeSchedule(_ name: String) async throws -> Bool { try await backend.removeSchedule(name) }

    /// Pauses or resumes a schedule; whether there was one.
    public func setSchedulePaused(_ paused: Bool, name: String) async throws -> Bool {
        try await backend.setSchedulePaused(paused, name: name)
    }
}

/// What differs between keeping jobs in this process and on a durable queue; ``JobStore`` adds
/// what both share.
public protocol JobBackend: Sendable {
    /// `memory` or `postgres`.
    var mode: String { get }
    /// Refuses a job this backend cannot hold, before anything is queued (a durable queue's
    /// database cannot hold every value a pool can run).
    /// - Throws: ``OffloadError`` naming the field (`invalidPayload`, `resourceLimitExceeded`).
    func check(_ job: Job) throws(OffloadError)
    func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID]
    func job(_ id: JobID) async throws -> JobView?
    func jobs(_ query: JobQuery) async throws -> JobPage
    func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView?
    func cancel(_ id: JobID) async throws -> CancelAnswer
    func retry(_ id: JobID) async throws -> Bool
    func events(of id: JobID, limits: StreamLimits) async throws -> BoundedStream<JobEvent>?
    func artifact(_ sha256: String) async throws -> StoredFile?
    func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String)
    /// The limits of each kind that has some (``KindLimits``): the pool's in memory, the queue's
    /// (across its hosts) on PostgreSQL.
    func kindLimits() async throws -> [String: KindLimits]
    /// Sets a kind's limits.
    func setLimits(_ limits: KindLimits, for kind: String) async throws
    /// Pauses a kind (`true`) or resumes it, its other limits kept.
    func setPaused(_ paused: Bool, kind: String) async throws
    /// The periodic jobs, by name, each with its next tick and last run.
    func schedules() async throws -> [ScheduleState]
    /// Adds a schedule, or replaces the one of its name.
    func addSchedule(_ schedule: Schedule) async throws
    /// Removes a schedule; whether there was one.
    func removeSchedule(_ name: String) async throws -> Bool
    /// Pauses or resumes a schedule; whether there was one.
    func setSchedulePaused(_ paused: Bool, name: String) async throws -> Bool
    /// Jobs by state (queued by priority, running, delayed) and the totals, as the overview shows them.
    func counts() async throws -> Overview
    func isReady() async -> Bool
    /// Runs the backend until the service group shuts down, telling `changes` of each job that changes.
    func run(changes: ChangeFeed) async throws
}

extension JobBackend {
    /// A pool holds every job it can run.
    public func check(_ job: Job) throws(OffloadError) {}
}

/// A file a job produced, with the type it is served as.
public struct StoredFile: Sendable {
    public var bytes: [UInt8]
    public var contentType: String
    /// The SHA-256 of `bytes`, in hex.
    public var sha256: String

    public init(bytes: [UInt8], contentType: String, sha256: String) {
        self.bytes = bytes
        self.contentType = contentType
        self.sha256 = sha256
    }
}

/// The filter and cursor of `GET /v1/jobs`.
public struct JobQuery: Sendable {
    public var state: JobView.State?
    public var kind: String?
    /// Only jobs carrying this tag.
    public var tag: String?
    /// Only jobs whose payload (as JSON) holds this text, or whose id starts with it, letters'
    /// case aside.
    public var text: String?
    /// At most this many jobs (1…500).
    public var limit: Int
    /// Jobs older than this one (the `next` of the previous page).
    public var after: JobID?

    public init(
        state: JobView.State? = nil, kind: String? = nil, tag: String? = nil, text: String? = nil, limit: Int = 50, after: JobID? = nil
    ) {
        self.state = state
        self.kind = kind
        self.tag = tag
        self.text = text
        self.limit = limit
        self.after = after
    }

    /// The longest `text` searched for, in characters (Unicode scalars, as JSON Schema counts).
    public static let maxTextLength = 200

    /// Whether a job of this id and payload (its JSON text) matches ``text``.
    public func matchesText(id: JobID, payload: some Collection<UInt8>) -> Bool {
        guard let text, !text.isEmpty else { return true }
        let needle = text.lowercased()
        return id.rawValue.lowercased().hasPrefix(needle) || String(decoding: payload, as: UTF8.self).lowercased().contains(needle)
    }
}

/// One page of jobs, newest first, and the cursor of the next page (`nil` on the last).
public struct JobPage: Sendable {
    public var jobs: [JobView]
    public var next: JobID?

    public init(jobs: [JobView], next: JobID?) {
        self.jobs = jobs
        self.next = next
    }
}
