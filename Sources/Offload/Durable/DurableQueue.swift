/// A queue whose jobs outlive the processes that submit and run them: the engine behind
/// ``QueueServer`` (PostgreSQL's, in `OffloadPostgres`).
///
/// A host claims jobs under a lease that the queue's own clock times, renews its leases while it
/// runs them, and finishes each one fenced by its claim: once a lease has been lost (the host was
/// presumed dead and the job rescued), that host can no longer complete, fail or retry the job.
/// Attempts, retries and their back-off are the queue's: a claimed job runs once in the pool.
public protocol DurableQueue: Sendable {
    /// Claims at most `request.limit` ready jobs, in the queue's order, under a lease held by
    /// `request.host`; each claim counts an attempt.
    func claim(_ request: ClaimRequest) async throws -> [ClaimedJob]

    /// Extends the leases of `jobs`, held by `host`, in one statement; called every heartbeat,
    /// with no jobs too (the host is alive).
    /// - Returns: the jobs whose lease is lost and those someone asked to cancel.
    func renew(_ jobs: [ClaimedJob], host: String) async throws -> LeaseRenewal

    /// Records how claimed jobs ended, in one statement: completed, cancelled, failed for good or
    /// scheduled for their next attempt (a retryable error with attempts left).
    /// - Returns: one result per end, in order; `.leaseLost` where the claim no longer holds and
    ///   nothing was recorded.
    func finish(_ ends: [JobEnd]) async throws -> [FinishResult]

    /// The jobs whose cancel is asked for, as the queue hears of it: a host stops such a job at
    /// once rather than at its next heartbeat (which still reports the requests, should one be
    /// missed). Each call makes a new stream, ending when its reader's task is cancelled.
    func cancelRequests() -> AsyncStream<JobID>

    /// Writes what the host's pool saw of jobs it holds (progress, stop requests, preemptions and
    /// the restarts after them) into their histories, in one statement, in order; a step of a job
    /// whose claim no longer holds is dropped. Called before the ends of those jobs are recorded.
    func record(_ steps: [JobEvent], host: String) async throws

    /// Hands claimed jobs that have not started back to the queue at once, their attempt not
    /// counted (a host shutting down).
    func release(_ jobs: [ClaimedJob]) async throws

    /// Waits until jobs `request` would claim may be ready: a notification of new work, the time
    /// the next delayed job is due, or `timeout`, whichever comes first.
    func waitForWork(_ request: ClaimRequest, timeout: Duration) async

    /// The largest file ``storeArtifact(_:contentType:name:job:)`` keeps, in bytes.
    var maxArtifactBytes: Int { get }

    /// Keeps a file `job` produced where every host can read it (deduplicated by content).
    /// - Throws: ``OffloadError/Code/resourceLimitExceeded`` for a file over the queue's cap.
    func storeArtifact(_ bytes: [UInt8], contentType: String, name: String, job: ClaimedJob) async throws -> Artifact

    /// Upkeep any host may run (one at a time): jobs whose lease expired go back to the queue or
    /// fail when their attempts are spent; finished jobs past their retention are deleted.
    func maintain() async throws

    /// The limits each kind has across the queue's hosts (kinds without any are left out).
    func kindLimits() async throws -> [String: KindLimits]

    /// Sets what `kind`'s jobs may do across every host, from the next claim on: a limit on
    /// running jobs counts those of all hosts; a rate, the starts of all hosts.
    /// - Throws: ``OffloadError/Code/invalidConfiguration`` for limits ``KindLimits/validate()`` refuses.
    func setLimits(_ limits: KindLimits, for kind: String) async throws

    /// Inserts the jobs of the schedule ticks that are due, each once however many hosts call
    /// it (see ``Schedule``); a host calls it every second or so.
    /// - Returns: how long until the next tick is due, if any.
    func insertDueTicks() async throws -> Duration?

    /// Records what `request.host` serves (its kinds and capabilities), so that the queue can
    /// refuse a job no host runs instead of keeping it waiting forever; a server says it when it
    /// starts.
    func announce(_ request: ClaimRequest) async throws
}

extension DurableQueue {
    /// A queue that does not check what its hosts serve keeps nothing.
    public func announce(_ request: ClaimRequest) async throws {}

    /// A queue without schedules has no ticks.
    public func insertDueTicks() async throws -> Duration? { nil }
}

/// What a host asks of ``DurableQueue/claim(_:)``.
public struct ClaimRequest: Sendable, Hashable {
    /// The claiming host's id, written into each claim as its lease owner.
    public var host: String
    /// Jobs at most.
    public var limit: Int
    /// The kinds the host runs.
    public var kinds: [String]
    /// The capabilities the host's workers declare (a job's required ones must be among them).
    public var capabilities: Set<String>
    /// Jobs of a kind the host may take at most, for kinds its own limits hold (none of a kind
    /// it has paused or that runs as many as its pool allows); the queue's limits apply as well.
    public var localRoom: [String: Int]

    public init(host: String, limit: Int, kinds: [String], capabilities: Set<String>, localRoom: [String: Int] = [:]) {
        self.host = host
        self.limit = limit
        self.kinds = kinds
        self.capabilities = capabilities
        self.localRoom = localRoom
    }
}

/// A job a host holds under a lease.
public struct ClaimedJob: Sendable {
    /// The job as the pool runs it (no retries of its own: the queue counts them).
    public var job: Job
    /// The attempt this claim is (1 for the first); with the host, the fence of its finish.
    public var attempt: Int
    /// The attempts the job may make.
    public var maxAttempts: Int
    /// The host holding the lease.
    public var owner: String
    /// Why the job cannot run as stored (a payload that no longer reads): it ends failed with
    /// this error without reaching the pool.
    public var failure: OffloadError?

    public init(job: Job, attempt: Int, maxAttempts: Int, owner: String, failure: OffloadError? = nil) {
        self.job = job
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.owner = owner
        self.failure = failure
    }
}

/// How a claimed job ended, for ``DurableQueue/finish(_:)``.
public struct JobEnd: Sendable {
    public var claimed: ClaimedJob
    public var outcome: JobOutcome

    public init(_ claimed: ClaimedJob, _ outcome: JobOutcome) {
        self.claimed = claimed
        self.outcome = outcome
    }

    /// Whether the end schedules another attempt: a retryable failure with attempts left.
    public var retries: Bool {
        !snoozes && outcome.status == .failed && (outcome.error?.isRetryable ?? false) && claimed.attempt < claimed.maxAttempts
    }

    /// How long the job waits when its handler snoozed it (``OffloadError/snooze(for:_:)``): it
    /// runs again then, an attempt added to its most; `nil` for any other end, and for a job
    /// that reached ``OffloadError/maxAttempts`` (it ends failed).
    public var snooze: Duration? {
        guard outcome.status == .failed, claimed.attempt < OffloadError.maxAttempts else { return nil }
        return outcome.error?.snoozeFor
    }

    package var snoozes: Bool { snooze != nil }
}

extension DurableQueue {
    /// Records how one claimed job ended (``finish(_:)`` with one end).
    public func finish(_ claimed: ClaimedJob, _ outcome: JobOutcome) async throws -> FinishResult {
        try await finish([JobEnd(claimed, outcome)]).first ?? .leaseLost
    }
}

/// What a heartbeat learnt of a host's claims.
public struct LeaseRenewal: Sendable, Hashable {
    /// Jobs whose lease this host no longer holds (rescued, cancelled or deleted meanwhile).
    public var lost: Set<JobID>
    /// Jobs someone asked to cancel.
    public var cancelRequested: Set<JobID>

    public init(lost: Set<JobID> = [], cancelRequested: Set<JobID> = []) {
        self.lost = lost
        self.cancelRequested = cancelRequested
    }
}

/// How ``DurableQueue/finish(_:_:)`` went.
public enum FinishResult: Sendable, Hashable {
    /// The job's end is recorded.
    case recorded
    /// The job will run again (its retry is scheduled).
    case retryScheduled
    /// The claim no longer holds: another host may be running the job; nothing was written.
    case leaseLost
}
