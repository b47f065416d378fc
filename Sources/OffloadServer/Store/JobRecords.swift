import DequeModule
import Foundation
import Offload

/// The jobs a ``MemoryBackend`` keeps, bounded in bytes and in count: each job's payload and
/// result held once, as their JSON text; the oldest finished jobs dropped first when over a
/// bound; unfinished jobs never dropped, so that a submission that would take them past the
/// bytes is refused instead (``OffloadError/Code/queueFull``); a pinned job (someone waits for
/// its answer) never dropped before it is unpinned.
///
/// A value; its owner keeps it under a lock.
struct JobRecords {
    /// One job: what was submitted (for a retry), how it looks now, its events, and the streams
    /// following it.
    struct Entry {
        /// The job as submitted; its payload is the JSON text below (the very bytes the pool holds).
        var job: Job
        var payload: [UInt8]
        /// The job's state, without its payload and result (``JobRecords/view(_:full:)`` adds them).
        var view: JobView
        var result: [UInt8]?
        var events: [JobEvent] = []
        var nextEvent = 1
        var watchers: [UInt64: BoundedStream<JobEvent>] = [:]
        /// Its place in ``JobRecords/order``.
        var position: Int
        /// Tells this entry from an earlier one of the same id (a retry) in the finished order.
        var generation: UInt64
        /// Readers waiting for its answer: it is not dropped while any waits.
        var pins = 0
        /// What it costs: payload, result, events and a fixed part for the rest.
        var bytes = 0

        var isHeld: Bool { !view.state.isFinished || pins > 0 }
    }

    /// The most events one job keeps; beyond it, progress events replace the last one.
    static let maxEventsPerJob = 200
    /// What an entry costs beyond its payload, result and events: its view, job and bookkeeping.
    static let entryOverhead = 1_024
    /// What an event costs beyond its message.
    static let eventOverhead = 160

    let maxBytes: Int
    let maxJobs: Int
    private(set) var entries: [JobID: Entry] = [:]
    /// Ids in the order they were submitted (oldest first); `nil` where a job was dropped.
    private var order: [JobID?] = []
    private var holes = 0
    /// Finished jobs, oldest end first: the order they are dropped in.
    private var finished: Deque<(id: JobID, generation: UInt64)> = []
    /// Bytes of every entry, and of those that cannot be dropped now (unfinished or pinned).
    private(set) var bytes = 0
    private(set) var heldBytes = 0
    /// Bytes of jobs dropped since the owner last asked (``takeDroppedBytes()``).
    private var droppedBytes = 0
    private var nextGeneration: UInt64 = 0
    /// The next event number of jobs being retried (their events number on).
    var carriedSequences: [JobID: Int] = [:]
    /// For each job others depend on: those others, while they are kept.
    private var dependents: [JobID: [JobID]] = [:]
    /// What one dependency costs a job: its id in the job and in the list of its dependents.
    static let dependencyOverhead = 160

    init(maxBytes: Int, maxJobs: Int) {
        self.maxBytes = max(1, maxBytes)
        self.maxJobs = max(1, maxJobs)
    }

    var count: Int { entries.count }

    /// `bytes` in a buffer of their own size: text written by appending has room for up to as
    /// much again, which the store would hold without counting it.
    static func compacted(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.capacity > bytes.count + bytes.count / 16 + 64 else { return bytes }
        return bytes.withUnsafeBufferPointer { Array($0) }
    }

    // MARK: - Adding and dropping

    /// Refuses `jobs` (payloads of `sizes` bytes) when an id is taken or given twice, or when
    /// with the jobs already unfinished they would be more than the bytes kept.
    func admit(_ jobs: [Job], sizes: [Int]) throws(OffloadError) {
        if let taken = jobs.first(where: { entries[$0.id] != nil }) {
            throw OffloadError(.duplicateJob, "a job with id '\(taken.id)' exists; ids are unique among the jobs this service keeps")
        }
        var seen = Set<JobID>()
        for job in jobs where !seen.insert(job.id).inserted {
            throw OffloadError(.duplicateJob, "the id '\(job.id)' is given twice")
        }
        let incoming = sizes.reduce(0) { $0 + $1 + Self.entryOverhead + Self.eventOverhead }
        guard heldBytes + incoming <= maxBytes else {
            throw OffloadError(
                .queueFull,
                "the service holds \(OffloadError.grouped(heldBytes)) bytes of unfinished jobs and may hold \(OffloadError.grouped(maxBytes)) (--store-mb); retry once some have ended"
            )
        }
    }

    /// Adds a submitted job (its payload's JSON text `payload`): waiting for its dependencies,
    /// queued, or scheduled (`runAt`).
    mutating func add(_ job: Job, payload: [UInt8], at now: Timestamp, runAt: Timestamp? = nil) -> JobView {
        nextGeneration += 1
        let step: JobEvent.Step = !job.dependsOn.isEmpty ? .waiting : runAt.map { .scheduled(runAt: $0) } ?? .queued
        var view = JobView(
            id: job.id, kind: job.kind, priority: job.priority, state: JobEvent(job: job.id, at: now, step: step).state ?? .queued,
            createdAt: now.date, payload: .null)
        view.tags = job.tags
        view.dependsOn = job.dependsOn
        view.onDependencyFailure = job.onDependencyFailure
        for dependency in job.dependsOn { dependents[dependency, default: []].append(job.id) }
        var entry = Entry(job: job, payload: payload, view: view, position: order.count, generation: nextGeneration)
        let first = carriedSequences.removeValue(forKey: job.id) ?? 1
        let event = JobEvent(job: job.id, at: now, step: step, sequence: first)
        entry.events.append(event)
        entry.nextEvent = first + 1
        entry.bytes = Self.entryOverhead + payload.count + Self.cost(of: event) + job.dependsOn.count * Self.dependencyOverhead
        bytes += entry.bytes
        heldBytes += entry.bytes
        entries[job.id] = entry
        order.append(job.id)
        return view
    }

    /// Drops a job and ends the streams following it.
    mutating func remove(_ id: JobID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        for watcher in entry.watchers.values { watcher.finish() }
        for dependency in entry.job.dependsOn {
            dependents[dependency]?.removeAll { $0 == id }
            if dependents[dependency]?.isEmpty == true { dependents[dependency] = nil }
        }
        bytes -= entry.bytes
        if entry.isHeld { heldBytes -= entry.bytes }
        order[entry.position] = nil
        holes += 1
        if holes > 1_024 && holes * 2 > order.count { compact() }
    }

    /// Puts an entry back as it was (a retry that could not be queued again).
    mutating func restore(_ entry: Entry) {
        var entry = entry
        entry.position = order.count
        order.append(entry.job.id)
        bytes += entry.bytes
        if entry.isHeld { heldBytes += entry.bytes }
        if entry.view.state.isFinished { finished.append((entry.job.id, entry.generation)) }
        entries[entry.job.id] = entry
    }

    /// Drops the oldest finished jobs, not pinned, while over a bound.
    mutating func evict() {
        var pinned: [(id: JobID, generation: UInt64)] = []
        while bytes > maxBytes || entries.count > maxJobs, let next = finished.popFirst() {
            guard let entry = entries[next.id], entry.generation == next.generation, entry.view.state.isFinished else { continue }
            if entry.pins > 0 {
                pinned.append(next)
                continue
            }
            droppedBytes += entry.bytes
            remove(next.id)
        }
        // Pinned ones keep their place at the front.
        for held in pinned.reversed() { finished.prepend(held) }
    }

    /// The bytes of jobs dropped since the last call.
    mutating func takeDroppedBytes() -> Int {
        defer { droppedBytes = 0 }
        return droppedBytes
    }

    /// Someone waits for the job's answer: it stays until ``unpin(_:)``.
    mutating func pin(_ id: JobID) -> Bool {
        guard var entry = entries[id] else { return false }
        if !entry.isHeld { heldBytes += entry.bytes }
        entry.pins += 1
        entries[id] = entry
        return true
    }

    mutating func unpin(_ id: JobID) {
        guard var entry = entries[id], entry.pins > 0 else { return }
        entry.pins -= 1
        entries[id] = entry
        if !entry.isHeld {
            heldBytes -= entry.bytes
            evict()
        }
    }

    private mutating func compact() {
        let kept = order.compactMap { $0 }
        order = kept
        holes = 0
        for (position, id) in kept.enumerated() { entries[id]?.position = position }
    }

    // MARK: - A job's life

    /// Records a step of a job's life, numbered after its others, and tells its streams.
    /// - Returns: the job as it is now (without payload or result), `nil` for an unknown job.
    @discardableResult
    mutating func record(_ step: JobEvent) -> JobView? {
        guard var entry = entries[step.job] else { return nil }
        let wasHeld = entry.isHeld
        let before = entry.bytes
        entry.view.apply(step)
        var event = step
        event.sequence = entry.nextEvent
        entry.nextEvent += 1
        if entry.events.count >= Self.maxEventsPerJob, case .progress = event.step {
            entry.bytes -= Self.cost(of: entry.events[entry.events.count - 1])
            entry.events[entry.events.count - 1] = event
        } else {
            entry.events.append(event)
        }
        entry.bytes += Self.cost(of: event)
        for (token, watcher) in entry.watchers {
            watcher.push(event, bytes: Self.cost(of: event))
            if watcher.isEnded { entry.watchers[token] = nil }
        }
        if event.isFinal {
            for watcher in entry.watchers.values { watcher.finish() }
            entry.watchers = [:]
        }
        account(entry, before: before, wasHeld: wasHeld)
        entries[step.job] = entry
        return entry.view
    }

    /// Records a job's final step with its result's JSON text (for a completed job), and drops
    /// the oldest finished jobs while over a bound.
    @discardableResult
    mutating func end(_ step: JobEvent, result: [UInt8]?) -> JobView? {
        if var entry = entries[step.job] {
            let wasHeld = entry.isHeld
            let before = entry.bytes
            if case .completed = step.step { entry.result = result }
            entry.bytes += entry.result?.count ?? 0
            account(entry, before: before, wasHeld: wasHeld)
            entries[step.job] = entry
        }
        let view = record(step)
        if let entry = entries[step.job] { finished.append((step.job, entry.generation)) }
        evict()
        return view
    }

    /// Moves an entry's change of size and of state into the totals.
    private mutating func account(_ entry: Entry, before: Int, wasHeld: Bool) {
        bytes += entry.bytes - before
        switch (wasHeld, entry.isHeld) {
        case (true, true): heldBytes += entry.bytes - before
        case (true, false): heldBytes -= before
        case (false, true): heldBytes += entry.bytes
        case (false, false): break
        }
    }

    private static func cost(of event: JobEvent) -> Int {
        eventOverhead + (event.step.message?.utf8.count ?? 0) + (event.error?.message.utf8.count ?? 0)
    }

    // MARK: - Streams

    /// A stream of the job's events so far, then each new one until it ends, bounded as
    /// `maxCount` events and `maxBytes`; `nil` for an unknown job. `token` names the watcher for
    /// ``unwatch(_:token:)`` (`nil` when the job has ended: the stream is complete already).
    mutating func watch(_ id: JobID, maxCount: Int, maxBytes: Int, token: UInt64) -> (stream: BoundedStream<JobEvent>, watching: Bool)? {
        guard var entry = entries[id] else { return nil }
        let stream = BoundedStream<JobEvent>(maxCount: max(maxCount, entry.events.count + 1), maxBytes: maxBytes)
        for event in entry.events { stream.push(event, bytes: Self.cost(of: event)) }
        if entry.view.state.isFinished {
            stream.finish()
            return (stream, false)
        }
        entry.watchers[token] = stream
        entries[id] = entry
        return (stream, true)
    }

    /// Forgets a watcher whose reader went away before the job ended.
    mutating func unwatch(_ id: JobID, token: UInt64) {
        entries[id]?.watchers[token] = nil
    }

    /// Ends every stream (the service is stopping).
    mutating func finishWatchers() {
        for id in entries.keys where !entries[id]!.watchers.isEmpty {
            for watcher in entries[id]!.watchers.values { watcher.finish() }
            entries[id]!.watchers = [:]
        }
    }

    // MARK: - Reading

    /// The job as the API shows it; `full` adds its payload and result (parsed from their text).
    func view(_ id: JobID, full: Bool = true) -> JobView? {
        guard let entry = entries[id] else { return nil }
        return full ? Self.filled(entry) : entry.view
    }

    /// The job as its own page shows it: with its dependencies and dependents, as kept now.
    func linkedView(_ id: JobID) -> JobView? {
        guard var view = view(id) else { return nil }
        func link(_ other: JobID) -> JobLink { JobLink(id: other, kind: entries[other]?.view.kind, state: entries[other]?.view.state) }
        view.dependencies = view.dependsOn.map(link)
        view.dependents = (dependents[id] ?? []).prefix(JobView.maxDependents).map(link)
        return view
    }

    private static func filled(_ entry: Entry) -> JobView {
        var view = entry.view
        view.payload = (try? JSONParser.parse(entry.payload)) ?? .null
        view.result = entry.result.flatMap { try? JSONParser.parse($0) }
        return view
    }

    /// Newest first, after the cursor's job.
    func page(_ query: JobQuery) throws(OffloadError) -> JobPage {
        var index = order.count - 1
        if let after = query.after {
            guard let entry = entries[after] else {
                throw OffloadError(
                    .invalidPayload,
                    "after: no job \(OffloadError.quote(after.rawValue)) is kept (it may have been dropped: the service keeps the newest)")
            }
            index = entry.position - 1
        }
        var jobs: [JobView] = []
        while index >= 0 {
            if let id = order[index], let entry = entries[id],
                query.state.map({ $0 == entry.view.state }) ?? true, query.kind.map({ $0 == entry.view.kind }) ?? true,
                query.tag.map({ entry.view.tags.contains($0) }) ?? true, query.matchesText(id: id, payload: entry.payload)
            {
                if jobs.count == query.limit { return JobPage(jobs: jobs, next: jobs.last?.id) }
                jobs.append(Self.filled(entry))
            }
            index -= 1
        }
        return JobPage(jobs: jobs, next: nil)
    }
}
