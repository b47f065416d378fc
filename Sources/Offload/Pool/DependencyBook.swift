import DequeModule

/// The pool's jobs that wait for others (``Job/dependsOn``), who waits for whom, and how the
/// last ``rememberedEnds`` jobs ended, for a dependent submitted after its dependency ended.
/// Kept under the pool's lock; a job with no dependents costs its end one remembered entry.
struct DependencyBook {
    /// A job held until its dependencies end.
    struct Waiting {
        let record: JobRecord
        /// Dependencies not ended yet.
        var pending: Int
    }

    /// How a job with dependencies enters the pool.
    enum Admission: Equatable {
        /// It waits for the dependencies still held.
        case waits
        /// Every dependency has ended as it needs: it is queued now.
        case ready
        /// A dependency already failed or was cancelled (and the job does not run anyway).
        case dependencyFailed(JobID)
        /// A dependency is neither held nor remembered (forgotten since the submission's check).
        case unknown(JobID)
    }

    /// The most ends remembered: a job may depend on one that ended at most this many ends before.
    static let rememberedEnds = 100_000

    private(set) var waiting: [JobID: Waiting] = [:]
    /// For each held job that others wait for: those others (some may have left since).
    private var dependents: [JobID: [JobID]] = [:]
    /// Whether each remembered job completed.
    private var ends: [JobID: Bool] = [:]
    private var endOrder = Deque<JobID>()

    /// The first dependency of `job` that is neither held (`isHeld`) nor among the remembered ends.
    func firstUnknown(of job: Job, isHeld: (JobID) -> Bool) -> JobID? {
        job.dependsOn.first { ends[$0] == nil && waiting[$0] == nil && !isHeld($0) }
    }

    /// Enters `record`: waiting for the dependencies still held, or ready, or refused.
    mutating func admit(_ record: JobRecord, isHeld: (JobID) -> Bool) -> Admission {
        let job = record.job
        var pending: [JobID] = []
        var failed: JobID?
        for dependency in job.dependsOn {
            if let completed = ends[dependency] {
                if !completed && failed == nil { failed = dependency }
            } else if waiting[dependency] != nil || isHeld(dependency) {
                pending.append(dependency)
            } else {
                return .unknown(dependency)
            }
        }
        if let failed, job.onDependencyFailure == .cancel { return .dependencyFailed(failed) }
        guard !pending.isEmpty else { return .ready }
        for dependency in pending { dependents[dependency, default: []].append(job.id) }
        waiting[job.id] = Waiting(record: record, pending: pending.count)
        return .waits
    }

    /// Remembers how `id` ended; `true` when jobs wait for it (``release(after:completed:)`` then).
    mutating func remember(_ id: JobID, completed: Bool) -> Bool {
        if ends.updateValue(completed, forKey: id) == nil {
            endOrder.append(id)
            if endOrder.count > Self.rememberedEnds { ends[endOrder.removeFirst()] = nil }
        }
        return !dependents.isEmpty && dependents[id] != nil
    }

    /// The jobs that waited for `id`, which ended: those it was the last for are `ready`; when it
    /// did not complete, those that do not run anyway are `cancelled` (their own dependents are
    /// then the caller's to release, as each ends).
    mutating func release(after id: JobID, completed: Bool) -> (ready: [JobRecord], cancelled: [JobRecord]) {
        var ready: [JobRecord] = []
        var cancelled: [JobRecord] = []
        for dependent in dependents.removeValue(forKey: id) ?? [] {
            guard var entry = waiting[dependent] else { continue }
            if !completed && entry.record.job.onDependencyFailure == .cancel {
                waiting[dependent] = nil
                cancelled.append(entry.record)
                continue
            }
            entry.pending -= 1
            if entry.pending == 0 {
                waiting[dependent] = nil
                ready.append(entry.record)
            } else {
                waiting[dependent] = entry
            }
        }
        return (ready, cancelled)
    }

    /// Takes a waiting job out (cancelled or handed back); `nil` when it does not wait.
    mutating func remove(_ id: JobID) -> JobRecord? { waiting.removeValue(forKey: id)?.record }

    /// Takes every waiting job out (a shutdown past its deadline).
    mutating func removeAll() -> [JobRecord] {
        defer {
            waiting = [:]
            dependents = [:]
        }
        return waiting.values.map(\.record).sorted { $0.submittedAt < $1.submittedAt }
    }
}
