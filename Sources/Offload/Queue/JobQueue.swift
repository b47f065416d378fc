import HeapModule

/// A priority job queue with aging, delayed jobs and lanes by required capabilities.
///
/// - **Order**: under `.priority`, higher levels first and first in, first out within a level.
/// - **Aging**: a ready job gains one level for every `agingInterval` it waits, so a flood of
///   high-priority work never starves low-priority work. Because every waiting job ages at the
///   same rate, a job's rank is fixed when it becomes ready (`readySince − level × agingInterval`,
///   smaller first): the order never has to be recomputed and every operation stays O(log n).
/// - **Delays**: a job with a run-at time in the future is kept whole in a second heap and becomes
///   ready when it is due (``releaseDue(now:)``, called by ``dequeue(now:where:)``).
/// - **Lanes**: jobs that need capabilities wait in a lane per set of capabilities, so a worker
///   takes the best job it can run without scanning the others.
/// - **Removal** (cancellation) is O(1): the entry is forgotten and skipped when it surfaces.
///
/// The queue takes `now` as a parameter everywhere, so tests drive its clock.
package struct JobQueue<Element: QueueableJob> {
    /// The order of ready jobs.
    package let ordering: QueueOrdering
    /// The wait that raises a ready job by one level; `nil` disables aging.
    package let agingInterval: Duration?

    private struct ReadyEntry: Comparable {
        var major: Int64
        var minor: Int64
        var sequence: UInt64
        var id: JobID

        static func < (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool {
            if lhs.major != rhs.major { return lhs.major < rhs.major }
            if lhs.minor != rhs.minor { return lhs.minor < rhs.minor }
            return lhs.sequence < rhs.sequence
        }

        static func == (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool { lhs.sequence == rhs.sequence }
    }

    private struct DelayedEntry: Comparable {
        var due: Int64
        var sequence: UInt64
        var id: JobID

        static func < (lhs: DelayedEntry, rhs: DelayedEntry) -> Bool {
            lhs.due != rhs.due ? lhs.due < rhs.due : lhs.sequence < rhs.sequence
        }

        static func == (lhs: DelayedEntry, rhs: DelayedEntry) -> Bool { lhs.sequence == rhs.sequence }
    }

    fileprivate struct Member {
        var element: Element
        var sequence: UInt64
        var lane: Int
        var isDelayed: Bool
        /// When the job became (or becomes) ready, in nanoseconds since the queue's epoch.
        var readySince: Int64
    }

    private let epoch: ContinuousClock.Instant
    private let agingNanos: Int64
    private var lanes: [QueueLane] = []
    private var laneIndex: [QueueLane: Int] = [:]
    private var ready: [Heap<ReadyEntry>] = []
    private var delayed = Heap<DelayedEntry>()
    private var members: [JobID: Member] = [:]
    private var nextSequence: UInt64 = 0
    private var readyByPriority = [0, 0, 0, 0]
    private var stale = 0

    /// - Parameters:
    ///   - ordering: priority (default) or arrival order.
    ///   - agingInterval: the wait worth one level (default 10 s); `nil` for none.
    ///   - epoch: the origin of the queue's clock (default: now).
    package init(ordering: QueueOrdering = .priority, agingInterval: Duration? = .seconds(10), epoch: ContinuousClock.Instant = .now) {
        self.ordering = ordering
        self.agingInterval = agingInterval
        self.epoch = epoch
        self.agingNanos = agingInterval.map { max($0.nanoseconds, 1) } ?? 0
    }

    /// Jobs held, ready and delayed.
    package var count: Int { members.count }
    /// Whether the queue holds no job.
    package var isEmpty: Bool { members.isEmpty }
    /// Jobs ready to run.
    package var readyCount: Int { readyByPriority.reduce(0, +) }
    /// Jobs waiting for their run-at time.
    package var delayedCount: Int { members.count - readyCount }
    /// Ready jobs of one priority.
    package func readyCount(of priority: Priority) -> Int { readyByPriority[priority.rawValue] }
    /// Whether the queue holds the job.
    package func contains(_ id: JobID) -> Bool { members[id] != nil }

    /// The time the next delayed job is due, if any.
    package mutating func nextDueTime() -> ContinuousClock.Instant? {
        while let top = delayed.min {
            if let member = members[top.id], member.sequence == top.sequence, member.isDelayed {
                return epoch + .nanoseconds(top.due)
            }
            _ = delayed.popMin()
        }
        return nil
    }

    /// Adds a job.
    /// - Parameters:
    ///   - element: the job; its id must not be in the queue already.
    ///   - lane: the capabilities a worker needs to take it.
    ///   - now: the current time.
    ///   - runAt: the earliest start; a time after `now` makes the job delayed.
    ///   - readySince: when the job's wait began, for a job put back (it keeps its place); default `now`.
    package mutating func enqueue(
        _ element: Element, lane: QueueLane = .any, now: ContinuousClock.Instant,
        runAt: ContinuousClock.Instant? = nil, readySince: ContinuousClock.Instant? = nil
    ) {
        let laneNumber = self.laneNumber(lane)
        nextSequence += 1
        let member: Member
        if let runAt, runAt > now {
            member = Member(element: element, sequence: nextSequence, lane: laneNumber, isDelayed: true, readySince: nanos(runAt))
        } else {
            member = Member(
                element: element, sequence: nextSequence, lane: laneNumber, isDelayed: false,
                readySince: readySince.map(nanos) ?? nanos(now))
        }
        let previous = members.updateValue(member, forKey: element.id)
        precondition(previous == nil, "job \(element.id) is already queued")
        if member.isDelayed {
            delayed.insert(DelayedEntry(due: member.readySince, sequence: member.sequence, id: element.id))
        } else {
            pushReady(member)
        }
    }

    /// Moves the delayed jobs that are due into the ready lanes; returns how many moved.
    @discardableResult
    package mutating func releaseDue(now: ContinuousClock.Instant) -> Int {
        let nowNanos = nanos(now)
        var released = 0
        while let top = delayed.min, top.due <= nowNanos {
            _ = delayed.popMin()
            guard var member = members[top.id], member.sequence == top.sequence, member.isDelayed else { continue }
            member.isDelayed = false
            members[top.id] = member
            pushReady(member)
            released += 1
        }
        return released
    }

    /// Takes the best ready job that a worker able to serve the lanes accepted by `canServe` may run.
    package mutating func dequeue(now: ContinuousClock.Instant, where canServe: (QueueLane) -> Bool = { _ in true }) -> Element? {
        releaseDue(now: now)
        guard let lane = bestLane(where: canServe), let entry = ready[lane].popMin() else { return nil }
        let member = members.removeValue(forKey: entry.id)!
        readyByPriority[member.element.priority.rawValue] -= 1
        return member.element
    }

    /// The job ``dequeue(now:where:)`` would return, left in place.
    package mutating func peek(now: ContinuousClock.Instant, where canServe: (QueueLane) -> Bool = { _ in true }) -> Element? {
        releaseDue(now: now)
        guard let lane = bestLane(where: canServe) else { return nil }
        return liveTop(lane)?.member.element
    }

    /// Removes a queued job (ready or delayed) and returns it; `nil` when it is not in the queue.
    package mutating func remove(_ id: JobID) -> Element? {
        guard let member = members.removeValue(forKey: id) else { return nil }
        if !member.isDelayed { readyByPriority[member.element.priority.rawValue] -= 1 }
        stale += 1
        if stale > 4096 && stale > members.count { compact() }
        return member.element
    }

    /// Removes every job and returns them, ready ones first in queue order.
    package mutating func removeAll(now: ContinuousClock.Instant) -> [Element] {
        var drained: [Element] = []
        while let element = dequeue(now: now) { drained.append(element) }
        drained.append(contentsOf: members.values.sorted { $0.sequence < $1.sequence }.map(\.element))
        members.removeAll()
        delayed = Heap()
        ready = ready.map { _ in Heap() }
        readyByPriority = [0, 0, 0, 0]
        stale = 0
        return drained
    }

    // MARK: - Internals

    private func nanos(_ instant: ContinuousClock.Instant) -> Int64 { (instant - epoch).nanoseconds }

    private mutating func laneNumber(_ lane: QueueLane) -> Int {
        if let number = laneIndex[lane] { return number }
        lanes.append(lane)
        ready.append(Heap())
        laneIndex[lane] = lanes.count - 1
        return lanes.count - 1
    }

    private mutating func pushReady(_ member: Member) {
        let level = Int64(member.element.priority.rawValue)
        let entry: ReadyEntry
        switch ordering {
        case .fifo:
            entry = ReadyEntry(major: member.readySince, minor: 0, sequence: member.sequence, id: member.element.id)
        case .priority where agingNanos > 0:
            let (credit, overflow) = level.multipliedReportingOverflow(by: agingNanos)
            entry = ReadyEntry(
                major: overflow ? .min : member.readySince &- credit, minor: 0, sequence: member.sequence, id: member.element.id)
        case .priority:
            entry = ReadyEntry(major: -level, minor: member.readySince, sequence: member.sequence, id: member.element.id)
        }
        ready[member.lane].insert(entry)
        readyByPriority[member.element.priority.rawValue] += 1
    }

    /// The lane whose best live job ranks first among the lanes `canServe` accepts.
    private mutating func bestLane(where canServe: (QueueLane) -> Bool) -> Int? {
        // One lane (one kind, needing no capabilities) is the common case.
        if ready.count == 1 { return canServe(lanes[0]) && liveTop(0) != nil ? 0 : nil }
        var best: (lane: Int, entry: ReadyEntry)?
        for lane in ready.indices where canServe(lanes[lane]) {
            guard let top = liveTop(lane)?.entry else { continue }
            if best == nil || top < best!.entry { best = (lane, top) }
        }
        return best?.lane
    }

    /// The best live entry of a lane and its member; entries of removed jobs are dropped on the way.
    private mutating func liveTop(_ lane: Int) -> (entry: ReadyEntry, member: Member)? {
        while let top = ready[lane].min {
            if let member = members[top.id], member.sequence == top.sequence, !member.isDelayed { return (top, member) }
            _ = ready[lane].popMin()
            stale = max(stale - 1, 0)
        }
        return nil
    }

    /// Rebuilds the heaps without the entries of removed jobs.
    private mutating func compact() {
        for lane in ready.indices {
            ready[lane] = Heap(
                ready[lane].unordered.filter { entry in
                    members[entry.id].map { $0.sequence == entry.sequence && !$0.isDelayed } ?? false
                })
        }
        delayed = Heap(
            delayed.unordered.filter { entry in
                members[entry.id].map { $0.sequence == entry.sequence && $0.isDelayed } ?? false
            })
        stale = 0
    }
}

extension JobQueue: Sendable where Element: Sendable {}
extension JobQueue.Member: Sendable where Element: Sendable {}
