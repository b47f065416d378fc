import Synchronization

/// Where `submit` leaves new jobs: a lock held for an append, so that submitters never wait
/// behind workers for the pool's main lock. Whoever next holds the main lock (a worker ending a
/// job, the supervisor, a submitter that saw a free worker) moves the arrivals into the queue.
///
/// Lost wake-ups are ruled out by order: a worker publishes that it is free *before* it drains
/// the inbox, and a submitter reads that hint *after* it appends; so either the worker's drain
/// sees the job or the submitter sees the free worker and dispatches itself.
final class SubmissionInbox: Sendable {
    private struct State {
        var arrivals: [JobRecord] = []
        /// Every job submitted and not yet ended: duplicates are refused at once, and the pool
        /// finds a job by its id here (the one table keyed by id outside the queue).
        var live: [JobID: JobRecord] = [:]
    }

    private let state = Mutex<State>(State())
    private let arrivalCount = Atomic<Int>(0)
    /// Free workers, as last published under the main lock.
    let freeWorkers = Atomic<Int>(0)
    /// Jobs waiting to start (arrivals, queued, delayed), for the capacity bound.
    let backlog = Atomic<Int>(0)
    /// Whether the pool still takes jobs.
    let accepting = Atomic<Bool>(true)
    /// Jobs ended so far (completed, failed or cancelled).
    let ended = Atomic<Int>(0)

    /// Adds a job; `false` when a job with its id is already in the pool.
    func add(_ record: JobRecord) -> Bool {
        let id = record.id
        let added = state.withLock { state -> Bool in
            // One lookup in the common case; a duplicate (rare) puts the first job back.
            if let first = state.live.updateValue(record, forKey: id) {
                state.live[id] = first
                return false
            }
            state.arrivals.append(record)
            return true
        }
        if added {
            arrivalCount.add(1, ordering: .sequentiallyConsistent)
            backlog.add(1, ordering: .relaxed)
        }
        return added
    }

    /// Whether a job with this id is in the pool.
    func contains(_ id: JobID) -> Bool { state.withLock { $0.live[id] != nil } }

    /// The job with this id, if it is in the pool.
    func record(_ id: JobID) -> JobRecord? { state.withLock { $0.live[id] } }

    /// Whether the pool holds no job at all, arrived or not.
    var isEmpty: Bool { state.withLock { $0.live.isEmpty } }

    /// Takes every arrival, oldest first.
    func takeArrivals() -> [JobRecord] {
        guard arrivalCount.load(ordering: .sequentiallyConsistent) > 0 else { return [] }
        return state.withLock { state in
            defer { state.arrivals = [] }
            arrivalCount.subtract(state.arrivals.count, ordering: .sequentiallyConsistent)
            return state.arrivals
        }
    }

    /// Frees the id of a job that ended.
    func forget(_ id: JobID) {
        _ = state.withLock { $0.live.removeValue(forKey: id) }
    }
}
