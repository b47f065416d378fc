/// A worker as the pool's state keeps it.
///
/// A class: the dispatch loops look at every slot for every job, and a reference costs one
/// retain where a copy of the struct cost one per field. `@unchecked Sendable`: touched under
/// the pool's main lock only.
final class WorkerSlot: @unchecked Sendable {
    let worker: any Worker
    var id: WorkerID { worker.id }
    let profile: Int
    let capabilities: Set<String>
    /// Jobs the worker may hold at once, the running one included.
    let capacity: Int
    var state: WorkerState = .initializing
    var running: JobRecord?
    /// Jobs handed to the worker behind the running one, in order; the worker starts them itself.
    var held: [JobRecord] = []
    let startedAt: ContinuousClock.Instant
    var idleSince: ContinuousClock.Instant
    var jobsCompleted = 0
    /// Jobs handed to the worker so far: the last one's ``Assignment/sequence``.
    var handedOver = 0
    var busyTime: Duration = .zero
    /// Asked to end; takes no more jobs.
    var stopping = false

    init(worker: any Worker, profile: Int, capabilities: Set<String>, capacity: Int, startedAt: ContinuousClock.Instant) {
        self.worker = worker
        self.profile = profile
        self.capabilities = capabilities
        self.capacity = capacity
        self.startedAt = startedAt
        self.idleSince = startedAt
    }

    /// Jobs handed over and not ended.
    var load: Int { (running == nil ? 0 : 1) + held.count }
    /// Whether the worker can take another job now.
    var isFree: Bool { state != .initializing && !stopping && load < capacity }
    /// Whether the worker is ready, holds no job and is not ending.
    var isIdle: Bool { state == .idle && load == 0 && !stopping }

    /// What policies see of the worker (cheap: no `/proc` figures).
    var info: WorkerInfo {
        WorkerInfo(
            id: id, state: state, capabilities: capabilities, jobsCompleted: jobsCompleted, busyTime: busyTime,
            runningKind: running?.job.kind, heldJobs: held.count, pid: worker.pid)
    }

    /// The worker as metrics show it, with its process's memory and CPU time.
    var metricsInfo: WorkerInfo {
        var info = info
        info.resourceUsage = worker.resourceUsage
        return info
    }
}
