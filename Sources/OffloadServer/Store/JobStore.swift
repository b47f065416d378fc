public import Offload

/// Where `offload serve` keeps its jobs: a pool in this process (``PoolJobStore``), or a durable
/// queue that several hosts share. The routes speak to this protocol alone.
public protocol JobStore: Sendable {
    /// `memory` or `postgres`, as the overview shows it.
    var mode: String { get }
    /// The kinds a job may name.
    var kinds: [String] { get }

    /// Refuses a job this store cannot hold, before anything is queued (a durable queue's
    /// database cannot hold every value a pool can run).
    /// - Throws: ``OffloadError`` naming the field (`invalidPayload`, `resourceLimitExceeded`).
    func check(_ job: Job) throws(OffloadError)
    /// Queues the jobs, in order, and returns their ids.
    /// - Throws: ``OffloadError``: `duplicateJob` when an id is taken (then no job of the lot is
    ///   queued), `shuttingDown`, `queueFull`, `noCapableWorker`.
    func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID]
    /// The job as it is now, or `nil` when the store does not know it (or no longer keeps it).
    func job(_ id: JobID) async throws -> JobView?
    /// A page of jobs, newest first.
    func jobs(_ query: JobQuery) async throws -> JobPage
    /// Waits up to `timeout` for the job to end, and returns it as it is then.
    func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView?
    /// Cancels a job.
    func cancel(_ id: JobID) async throws -> CancelAnswer
    /// Queues a failed or cancelled job again under its id; `false` when it is not such a job.
    func retry(_ id: JobID) async throws -> Bool
    /// The job's events so far, then each new one until the job ends, bounded (a reader that
    /// falls behind is told so and the stream ends); `nil` for an unknown job. The reader calls
    /// `end()` when it leaves.
    func events(of id: JobID) async throws -> BoundedStream<JobEventView>?
    /// Every change of any job, as it happens, without payloads and results (for the
    /// dashboard's stream), bounded as ``events(of:)`` is.
    func changes() -> BoundedStream<JobView>
    /// A file a job produced, by the SHA-256 of its bytes.
    func artifact(_ sha256: String) async throws -> StoredFile?
    /// Runs a job that writes a file (an `image` card) and returns the file's bytes and type;
    /// `key` names what it draws (the same key, the same file), so that a store may reuse an
    /// earlier result.
    /// - Throws: ``OffloadError``: the job's error when it did not complete; `timedOut` when it
    ///   did not end within `timeout`, queued and drawn (the job is then cancelled).
    func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String)
    /// Workers, queue depths, totals and latencies.
    func overview() async throws -> Overview
    /// Whether jobs can be taken now (the pool is running; the queue answers).
    func isReady() async -> Bool
}

extension JobStore {
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

/// What a cancel request found.
public enum CancelAnswer: String, Sendable {
    /// The job was queued and is cancelled.
    case cancelled
    /// The job is running and was asked to stop.
    case requested
    /// The job had already ended.
    case alreadyFinished
    /// No such job.
    case notFound
}

/// The filter and cursor of `GET /v1/jobs`.
public struct JobQuery: Sendable {
    public var state: JobView.State?
    public var kind: String?
    /// At most this many jobs (1…500).
    public var limit: Int
    /// Jobs older than this one (the `next` of the previous page).
    public var after: JobID?

    public init(state: JobView.State? = nil, kind: String? = nil, limit: Int = 50, after: JobID? = nil) {
        self.state = state
        self.kind = kind
        self.limit = limit
        self.after = after
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
