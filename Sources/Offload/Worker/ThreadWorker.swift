import Logging
import Synchronization

/// A worker that is a thread of the host (isolation `thread`).
///
/// One long-lived task, bound to the worker's own thread, runs jobs one after another and takes
/// the next straight from the pool when one ends. Cancelling a job cancels that task; the worker
/// then carries on in a fresh task, so the cost of cancellation is paid only when it happens.
final class ThreadWorker: Worker {
    let id: WorkerID
    let pid: Int32 = SystemInfo.pid
    var resourceUsage: WorkerResourceUsage? { nil }
    private let isolation: Isolation
    private let limits: ResourceLimits
    private let executor = WorkerThreadExecutor()
    private let host: any WorkerHost
    private let logger: Logger
    private let abandonedThreads: AbandonedThreads
    private let mailbox = Mutex(Mailbox())

    private struct Mailbox {
        /// A job delivered while the loop was not waiting.
        var pending: Assignment?
        var waiter: CheckedContinuation<Assignment?, Never>?
        var loop: Task<Void, Never>?
        /// The job running now (id and attempt), the target of `cancel`.
        var current: (id: JobID, attempt: Int)?
        var cancelRequested = false
        /// A job cancelled in the moment between its delivery and its start: it ends without running.
        var cancelledBeforeStart: JobID?
        var stopping = false
        var abandoned = false
    }

    /// - Parameter isolation: what the worker's jobs see; `.process` inside a worker process.
    /// - Parameter abandonedThreads: the pool's count of threads stuck in jobs; past its limit
    ///   this worker does not start.
    init(
        id: WorkerID, host: any WorkerHost, isolation: Isolation = .thread, limits: ResourceLimits,
        abandonedThreads: AbandonedThreads = AbandonedThreads(limit: .max), logger: Logger
    ) {
        self.id = id
        self.isolation = isolation
        self.limits = limits
        self.host = host
        self.abandonedThreads = abandonedThreads
        self.logger = logger
    }

    func start() {
        guard let refusal = abandonedThreads.refusal else {
            executor.start(name: "offload-\(id)")
            spawnLoop(announce: true)
            return
        }
        // Reported from a task of its own: the pool starts workers outside its lock, and may
        // start the next one from this very report.
        Task { self.host.workerExited(self, cause: refusal) }
    }

    func deliver(_ assignment: Assignment) {
        let waiter = mailbox.withLock { mailbox -> CheckedContinuation<Assignment?, Never>? in
            guard let waiter = mailbox.waiter else {
                mailbox.pending = assignment
                return nil
            }
            mailbox.waiter = nil
            mailbox.current = (assignment.job.id, assignment.attempt)
            return waiter
        }
        waiter?.resume(returning: assignment)
    }

    func cancel(_ job: JobID) {
        let loop = mailbox.withLock { mailbox -> Task<Void, Never>? in
            guard let current = mailbox.current, current.id == job else {
                // Delivered and not started yet (or about to be taken as the next job).
                mailbox.cancelledBeforeStart = job
                return nil
            }
            guard !mailbox.cancelRequested else { return nil }
            mailbox.cancelRequested = true
            return mailbox.loop
        }
        loop?.cancel()
    }

    func stop() {
        let waiter = mailbox.withLock { mailbox -> CheckedContinuation<Assignment?, Never>? in
            mailbox.stopping = true
            defer { mailbox.waiter = nil }
            return mailbox.waiter
        }
        waiter?.resume(returning: nil)
    }

    func abandon() {
        mailbox.withLock { $0.abandoned = true }
        abandonedThreads.add()
        logger.debug("abandoned a worker thread stuck in a job", metadata: ["worker": "\(id)"])
    }

    // MARK: - The job loop

    private func spawnLoop(announce: Bool) {
        let task = Task(executorPreference: executor) { await self.loop(announce: announce) }
        mailbox.withLock { $0.loop = task }
    }

    private func loop(announce: Bool) async {
        if announce { host.workerReady(self) }
        var next = await waitForAssignment()
        while let assignment = next {
            let skip = mailbox.withLock { mailbox -> Bool in
                defer { mailbox.cancelledBeforeStart = nil }
                return mailbox.cancelledBeforeStart == assignment.job.id
            }
            let result = skip ? .failure(CancellationError()) : await execute(assignment)
            let (cancelled, abandoned) = mailbox.withLock { mailbox in
                mailbox.current = nil
                defer { mailbox.cancelRequested = false }
                return (mailbox.cancelRequested, mailbox.abandoned)
            }
            if abandoned { break }
            next = host.finish(assignment, result: result, on: self, takeNext: !cancelled)
            if cancelled {
                // This task is cancelled for good; carry on in a fresh one.
                spawnLoop(announce: false)
                return
            }
            if let direct = next {
                mailbox.withLock { $0.current = (direct.job.id, direct.attempt) }
            } else {
                next = await waitForAssignment()
            }
        }
        executor.stop()
        if mailbox.withLock({ $0.abandoned }) {
            // The stuck job returned at last: its thread ends, and a worker may start in its place.
            abandonedThreads.remove()
        } else {
            host.workerExited(self, cause: nil)
        }
    }

    private func waitForAssignment() async -> Assignment? {
        await withCheckedContinuation { continuation in
            let ready: Assignment?? = mailbox.withLock { mailbox in
                if let pending = mailbox.pending {
                    mailbox.pending = nil
                    mailbox.current = (pending.job.id, pending.attempt)
                    return .some(pending)
                }
                if mailbox.stopping || mailbox.abandoned { return .some(nil) }
                mailbox.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func execute(_ assignment: Assignment) async -> Result<JobResult, any Error> {
        let context = JobContext(assignment: assignment, worker: id, isolation: isolation, limits: limits, logger: logger, host: host)
        do {
            return .success(try await assignment.handler.run(assignment.job.payload, context: context))
        } catch {
            return .failure(error)
        }
    }
}
