/// What a ``QueueServer`` holds and decides, without threads or I/O: each event the server meets
/// (a claim answered, a job handed to the pool, a pool event, an end, a heartbeat's answer, a
/// cancel, a write done, a graceful stop) is a method that changes the state and returns what the
/// server must do. The server performs those actions; the tests drive this type alone.
///
/// A job the server holds is in one place at a time: `waiting` (claimed, not handed to the pool),
/// `running` (handed to the pool: queued there, then ``started``), or `ending` (ended, its end
/// not yet written).
struct QueueServerState {
    enum Phase: Equatable {
        /// Claiming and starting jobs.
        case serving
        /// A graceful stop: no more claims or starts; running jobs have until `deadline`.
        case draining(deadline: ContinuousClock.Instant)
    }

    /// What the server must do after an event (besides starting jobs, which ``claimed(_:)`` and
    /// ``startable()`` return to the claim loop).
    enum Action: Equatable {
        /// Ask the pool to stop the job (cancelled, or its lease lost).
        case stopInPool(JobID)
        /// Wake the writer: there are ends or steps to write.
        case write
        /// Wake the claim loop: a job it waited on to start has, and a claim is due.
        case claim
    }

    /// One batch for the writer: the steps to write first, then the ends.
    struct Write {
        var steps: [JobEvent]
        var ends: [JobEnd]
    }

    /// The most ends one ``DurableQueue/finish(_:)`` records.
    static let endsPerStatement = 500
    /// The most ended jobs held before their ends are written (a statement's worth being written,
    /// another gathering): past it, the host claims nothing until they are. Such jobs are running
    /// for the queue (they count against their kind's limit), so a host whose ends are written
    /// slower than its workers end jobs would otherwise hold ever more of them.
    static let maxUnwrittenEnds = 2 * endsPerStatement
    /// The most steps kept unwritten; past it, progress reports are dropped.
    static let maxPendingSteps = 10_000

    let workers: Int
    let prefetch: Int
    /// Whether the pool preempts lower work for a critical job.
    let preempts: Bool
    private(set) var phase = Phase.serving

    private(set) var waiting: [ClaimedJob] = []
    private(set) var running: [JobID: ClaimedJob] = [:]
    /// The running jobs the pool has started (the others wait in its queue).
    private(set) var started: Set<JobID> = []
    /// Ended jobs whose end is not written yet; their leases are still renewed.
    private(set) var ending: [JobID: ClaimedJob] = [:]
    /// Ends not yet written, in the order they came.
    private(set) var unwritten: [JobEnd] = []
    /// Steps the pool reported of held jobs, not yet written.
    private(set) var steps: [JobEvent] = []
    /// Jobs someone asked to cancel, until their end is written.
    private(set) var cancelRequested: Set<JobID> = []
    /// Held jobs the pool has, until their end is written: their steps come from its events.
    private var inPool: Set<JobID> = []
    /// Held jobs whose final event the pool has sent: their steps are all in ``steps``.
    private var poolEnded: Set<JobID> = []
    /// Held jobs the pool preempted: their next start is a step of their history.
    private var preempted: Set<JobID> = []

    init(workers: Int, prefetch: Int, preempts: Bool) {
        self.workers = workers
        self.prefetch = max(prefetch, 0)
        self.preempts = preempts
    }

    /// How many held jobs the pool has at once: one more per worker than it runs (when the
    /// prefetch allows), so that a worker finds its next job in the pool's queue when it ends
    /// one, instead of waiting for the server to hand it over.
    var inPoolLimit: Int { workers + min(workers, prefetch) }

    // MARK: - Claims and starts

    /// Every job held, for the heartbeat that renews their leases.
    var held: [ClaimedJob] { waiting + running.values + ending.values }

    var isServing: Bool { phase == .serving }

    /// Whether ends wait to be written.
    var hasUnwrittenEnds: Bool { !unwritten.isEmpty }

    /// Whether nothing runs and no end waits to be written: a drain is over.
    var isDrained: Bool { running.isEmpty && ending.isEmpty }

    /// Held jobs not started yet: waiting here, or in the pool's queue.
    var unstarted: Int { waiting.count + running.count - started.count }

    /// Whether ``maxUnwrittenEnds`` ends wait to be written: no claim is made until fewer do.
    var endsHoldClaims: Bool { ending.count >= Self.maxUnwrittenEnds }

    /// How many jobs to claim now, if a claim is due. While jobs wait to start, the server
    /// claims again only once half its room is free: one statement for several jobs instead of
    /// one per job that ends.
    var claimLimit: Int? {
        guard isServing, !endsHoldClaims else { return nil }
        let room = workers + prefetch - waiting.count - running.count
        return room > 0 && (unstarted == 0 || room * 2 >= workers + prefetch) ? room : nil
    }

    /// Whether the server should wait for new work in the queue (it has room and nothing
    /// waiting to start), rather than for a job of its own to end or its ends to be written.
    var waitsForWork: Bool { unstarted == 0 && workers + prefetch - running.count > 0 && !endsHoldClaims }

    /// A claim answered: the jobs wait to start; those a worker can take start now.
    mutating func claimed(_ jobs: [ClaimedJob]) -> [ClaimedJob] {
        waiting.append(contentsOf: jobs)
        return startable()
    }

    /// The waiting jobs that start now, in claim order, while workers are free. A critical job
    /// starts even when every worker is busy: the pool preempts lower work for it.
    mutating func startable() -> [ClaimedJob] {
        var jobs: [ClaimedJob] = []
        while isServing, let first = waiting.first, running.count < inPoolLimit || (first.job.priority == .critical && preempts) {
            waiting.removeFirst()
            running[first.job.id] = first
            jobs.append(first)
        }
        return jobs
    }

    /// The first waiting job, when a worker is free for it: a task whose job ended takes it.
    mutating func startNext() -> ClaimedJob? {
        guard isServing, let first = waiting.first, running.count < inPoolLimit else { return nil }
        waiting.removeFirst()
        running[first.job.id] = first
        return first
    }

    /// The pool accepted the job: its steps now come from the pool's events.
    mutating func handedToPool(_ id: JobID) {
        inPool.insert(id)
    }

    // MARK: - Ends

    /// A held job ended (in the pool, or before it started): its worker is free at once; the end
    /// waits to be written.
    mutating func ended(_ end: JobEnd) -> [Action] {
        let id = end.claimed.job.id
        running[id] = nil
        started.remove(id)
        ending[id] = end.claimed
        unwritten.append(end)
        return [.write]
    }

    /// A running job went back to the queue unfinished (the pool stopped first).
    mutating func handedBack(_ id: JobID) {
        running[id] = nil
        started.remove(id)
        forget(id)
    }

    /// The next batch to write, if any: ends in the order they came (at most
    /// ``endsPerStatement``) and every step kept so far. `nil` also when an end of the batch is
    /// of a job whose final pool event has not been seen yet and `force` is false: its last steps
    /// may still be on their way.
    mutating func nextWrite(force: Bool) -> Write? {
        guard !unwritten.isEmpty || !steps.isEmpty else { return nil }
        let ends = Array(unwritten.prefix(Self.endsPerStatement))
        if !force, ends.contains(where: { inPool.contains($0.claimed.job.id) && !poolEnded.contains($0.claimed.job.id) }) { return nil }
        unwritten.removeFirst(ends.count)
        for end in ends { forget(end.claimed.job.id) }
        defer { steps = [] }
        return Write(steps: steps, ends: ends)
    }

    /// The ends of a batch are written (or given up on): their jobs are no longer held.
    mutating func written(_ ends: [JobEnd]) {
        for end in ends {
            ending[end.claimed.job.id] = nil
            cancelRequested.remove(end.claimed.job.id)
        }
    }

    // MARK: - The pool's events

    /// A pool event: a step of a held job the queue does not see itself (progress, a stop
    /// request, a preemption and the start after it) is kept to be written.
    /// - Returns: `.write` when a step was kept or a held job's final event came; `.claim` when
    ///   a job's start makes a claim due.
    mutating func poolEvent(_ event: PoolEvent, origin: Timestamp, host: String) -> Action? {
        guard let info = event.jobInfo else { return nil }
        if event.outcome != nil {
            // Its end may be in already (the handle can answer before this event is read).
            guard inPool.contains(info.job) || running[info.job] != nil else { return nil }
            poolEnded.insert(info.job)
            return .write
        }
        guard let claimed = running[info.job] else { return nil }
        if case .jobStarted = event, started.insert(info.job).inserted, claimLimit != nil { return .claim }
        guard var step = event.jobEvent(since: origin) else { return nil }
        switch step.step {
        case .progress: guard steps.count < Self.maxPendingSteps else { return nil }
        case .stopRequested: break
        case .preempted: preempted.insert(info.job)
        case .started: guard preempted.remove(info.job) != nil else { return nil }
        default: return nil  // the queue writes the others itself
        }
        step.attempt = claimed.attempt
        step.host = host
        step.worker = nil
        step.pid = nil
        steps.append(step)
        return .write
    }

    // MARK: - Leases and cancels

    /// A heartbeat's answer: waiting jobs whose lease is lost are dropped, running ones are
    /// stopped (their end is then refused by the queue's fence); cancels asked elsewhere apply.
    mutating func renewed(_ renewal: LeaseRenewal) -> [Action] {
        waiting.removeAll { renewal.lost.contains($0.job.id) }
        var actions = renewal.lost.sorted { $0.rawValue < $1.rawValue }.filter { running[$0] != nil }.map(Action.stopInPool)
        for id in renewal.cancelRequested.sorted(by: { $0.rawValue < $1.rawValue }) { actions += cancel(id) }
        return actions
    }

    /// Whether the server holds the job: waiting, running or ending.
    func holds(_ id: JobID) -> Bool {
        running[id] != nil || ending[id] != nil || waiting.contains { $0.job.id == id }
    }

    /// A cancel of a held job: a waiting one ends at once, a running one is asked to stop.
    mutating func cancel(_ id: JobID) -> [Action] {
        guard holds(id) else { return [] }
        cancelRequested.insert(id)
        if let index = waiting.firstIndex(where: { $0.job.id == id }) {
            let claimed = waiting.remove(at: index)
            running[id] = claimed
            let outcome = JobOutcome(
                id: id, kind: claimed.job.kind, priority: claimed.job.priority, status: .cancelled,
                attempts: claimed.attempt, error: OffloadError(.cancelled, "cancelled before it started"))
            return ended(JobEnd(claimed, outcome))
        }
        return running[id] != nil ? [.stopInPool(id)] : []
    }

    /// Whether a job the pool ended as cancelled goes back to the queue: the server was stopping
    /// and nobody asked to cancel it.
    func isHandedBack(_ claimed: ClaimedJob, _ outcome: JobOutcome) -> Bool {
        outcome.error?.code == .shuttingDown || (outcome.status == .cancelled && !isServing && !cancelRequested.contains(claimed.job.id))
    }

    // MARK: - Graceful stop

    /// A graceful stop: no more claims or starts (a second one changes nothing).
    mutating func stop(deadline: ContinuousClock.Instant) {
        if case .serving = phase { phase = .draining(deadline: deadline) }
    }

    /// The jobs that wait to start, handed back to the queue at a stop: no longer held.
    mutating func takeWaiting() -> [ClaimedJob] {
        defer { waiting = [] }
        return waiting
    }

    /// The jobs in the pool's queue, not started: a stop takes them back from the pool (they
    /// end `shuttingDown` and are handed back like the waiting ones).
    var unstartedInPool: [JobID] {
        running.keys.filter { !started.contains($0) }.sorted { $0.rawValue < $1.rawValue }
    }

    /// When a stopping server gives up on what still runs or waits to be written.
    var drainDeadline: ContinuousClock.Instant? {
        if case .draining(let deadline) = phase { return deadline }
        return nil
    }

    private mutating func forget(_ id: JobID) {
        inPool.remove(id)
        poolEnded.remove(id)
        preempted.remove(id)
    }
}
