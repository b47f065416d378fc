/// The pool's workers as a sub-machine of ``PoolState``: the slots, which profile the next worker
/// takes, the back-off while workers fail to start, when a worker is recycled, and what the scaler
/// sees. It decides; ``PoolState`` makes the workers and emits the events. Driven alone by
/// `WorkerRosterTests`.
///
/// A collection of its slots, in the order they started.
struct WorkerRoster: RandomAccessCollection, MutableCollection {
    /// Capability profiles; never empty.
    let profiles: [Set<String>]
    /// Jobs after which a worker is recycled.
    let maxJobsPerWorker: Int?
    /// Age after which a worker is recycled.
    let maxLifetime: Duration?
    /// The slots themselves, for the dispatch loops (an array, cheaper to capture than the roster).
    private(set) var slots: [WorkerSlot] = []
    private var lastNumber = 0
    /// Workers that ended before they were ready, since one last was.
    private(set) var startFailuresInRow = 0
    /// No replacement worker starts before this (a back-off while workers fail to start).
    private(set) var respawnAfter: ContinuousClock.Instant?

    init(profiles: [Set<String>], maxJobsPerWorker: Int? = nil, maxLifetime: Duration? = nil) {
        precondition(!profiles.isEmpty, "a pool has one profile at least")
        self.profiles = profiles
        self.maxJobsPerWorker = maxJobsPerWorker
        self.maxLifetime = maxLifetime
    }

    // MARK: - Collection

    var startIndex: Int { slots.startIndex }
    var endIndex: Int { slots.endIndex }
    subscript(position: Int) -> WorkerSlot {
        get { slots[position] }
        set { slots[position] = newValue }
    }

    mutating func append(_ slot: WorkerSlot) { slots.append(slot) }
    mutating func remove(at index: Int) -> WorkerSlot { slots.remove(at: index) }
    func index(of id: WorkerID) -> Int? { slots.firstIndex { $0.id == id } }

    // MARK: - Starting workers

    /// Workers not asked to end.
    var live: [WorkerSlot] { slots.filter { !$0.stopping } }

    /// The id of the next worker: `w1`, `w2`…
    mutating func nextID() -> WorkerID {
        lastNumber += 1
        return WorkerID("w\(lastNumber)")
    }

    /// The profile the next worker takes: the one with the fewest live workers (the first of
    /// those tied).
    var profileToStart: Int {
        let live = live
        return profiles.indices.min { a, b in live.filter { $0.profile == a }.count < live.filter { $0.profile == b }.count }!
    }

    /// The profiles without a live worker: each needs one, whatever the scaler says.
    var profilesWithoutWorkers: [Int] {
        let live = live
        return profiles.indices.filter { profile in !live.contains { $0.profile == profile } }
    }

    /// Whether a worker may start now (not backing off).
    func mayStart(now: ContinuousClock.Instant) -> Bool { respawnAfter.map { now >= $0 } ?? true }

    /// A worker became ready: starting works again.
    mutating func workerReady() {
        startFailuresInRow = 0
        respawnAfter = nil
    }

    /// A worker ended before it was ready. From the third in a row, workers back off (0.1 s
    /// doubling to 10 s) and the queued jobs should fail rather than wait forever.
    /// - Returns: when the next worker may start, from the third failure in a row.
    mutating func workerFailedToStart(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        startFailuresInRow += 1
        guard startFailuresInRow >= 3 else { return nil }
        let backoff = Swift.min(Duration.milliseconds(100) * (1 << Swift.min(startFailuresInRow - 3, 7)), .seconds(10))
        respawnAfter = now + backoff
        return respawnAfter
    }

    // MARK: - Recycling and scaling

    /// Whether the worker has done its share (jobs or lifetime) and should be replaced.
    func shouldRecycle(_ index: Int, now: ContinuousClock.Instant) -> Bool {
        if let maxJobsPerWorker, slots[index].jobsCompleted >= maxJobsPerWorker { return true }
        if let maxLifetime, now - slots[index].startedAt >= maxLifetime { return true }
        return false
    }

    /// Idle workers past their lifetime (their jobs count is checked as each job ends).
    func agedIdleWorkers(now: ContinuousClock.Instant) -> [Int] {
        guard maxLifetime != nil else { return [] }
        return slots.indices.filter { slots[$0].isIdle && shouldRecycle($0, now: now) }
    }

    /// What the scaler sees: the ready live workers, and how many are starting.
    var loads: (workers: [Scaler.WorkerLoad], starting: Int) {
        let live = live
        let ready = live.filter { $0.state != .initializing }.map { slot in
            Scaler.WorkerLoad(
                id: slot.id, isBusy: slot.load > 0, idleSince: slot.idleSince,
                isLastOfItsProfile: live.filter { $0.profile == slot.profile }.count == 1)
        }
        return (ready, live.count - ready.count)
    }
}
