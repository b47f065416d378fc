public import Logging
public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves a ``DurableQueue`` with a ``WorkerPool``: claims as many jobs as the pool has workers
/// plus a prefetch, runs each in the pool, renews their leases while they run, records each end,
/// and cancels a job there when another process asks.
///
/// Run it in a `ServiceGroup` after its queue and pool (services shut down in reverse order, so the
/// server stops claiming and lets its jobs finish before the pool drains):
///
/// ```swift
/// let queue = try PostgresQueue(url: "postgres://app@localhost/app")
/// let server = QueueServer(queue: queue, pool: pool)
/// let group = ServiceGroup(services: [queue, pool, server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// On a graceful shutdown the server stops claiming, hands the jobs it claimed but did not start
/// back to the queue at once (no lease wait), lets running ones finish for up to `drainTimeout`,
/// then hands back those still running, and returns.
public final class QueueServer: Service, Sendable {
    /// How a server claims and holds jobs.
    public struct Configuration: Sendable {
        /// This host's id, written into each claim (default: host name, pid and a random part).
        public var host: String
        /// Jobs claimed beyond the free workers, held ready to start (default: one per worker).
        public var prefetch: Int?
        /// The kinds this host serves (default: every kind its pool's registry has).
        public var kinds: [String]?
        /// Where the pool's kinds write their files: a completed job whose result names a file
        /// under this folder (its `file` field, as `image` and `data` write it) has the file
        /// stored in the queue, and its result gains `artifact: {sha256, bytes, contentType}`,
        /// so that any host can serve it. `nil`: files stay on the host that ran the job.
        public var artifactFolder: String?
        /// Whether a file stored in the queue is removed from ``artifactFolder`` once stored (a
        /// service's scratch folder), instead of kept there (`offload worker`'s `OUT/files`).
        public var removesStoredFiles: Bool = false
        /// How often the leases of held jobs are renewed; also how soon a cancel request made
        /// elsewhere reaches a running job when its notification is lost.
        public var heartbeat: Duration
        /// The longest an idle server waits between two claims when no notification arrives.
        public var pollInterval: Duration
        /// How often this host runs the queue's upkeep (rescue of expired leases, retention).
        public var maintenanceInterval: Duration
        /// How long a graceful shutdown lets running jobs finish.
        public var drainTimeout: Duration
        /// Where the server logs.
        public var logger: Logger

        public init(
            host: String = QueueServer.defaultHostID(), prefetch: Int? = nil, heartbeat: Duration = .seconds(5),
            pollInterval: Duration = .seconds(5), maintenanceInterval: Duration = .seconds(5),
            drainTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "offload.queue")
        ) {
            self.host = host
            self.prefetch = prefetch
            self.heartbeat = heartbeat
            self.pollInterval = pollInterval
            self.maintenanceInterval = maintenanceInterval
            self.drainTimeout = drainTimeout
            self.logger = logger
        }
    }

    public let queue: any DurableQueue
    public let pool: WorkerPool
    public let configuration: Configuration
    private let holdings = Mutex(Holdings())
    private let wakeup = Wakeup()
    /// Signalled when there are ends or steps to write.
    private let toWrite = Wakeup()
    /// Signalled when the pool's final event of a held job has been seen.
    private let poolEnded = Wakeup()
    private let renewalFailures = Mutex(0)
    private let maintenanceFailures = Mutex(0)

    public init(queue: any DurableQueue, pool: WorkerPool, configuration: Configuration = Configuration()) {
        self.queue = queue
        self.pool = pool
        self.configuration = configuration
    }

    /// A host id unique to this process: the host name, the pid and a random part.
    public static func defaultHostID() -> String {
        "\(SystemInfo.hostName):\(SystemInfo.pid):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// The jobs this host holds: claimed and waiting to start, running in the pool, or ended
    /// and waiting for their end to be recorded.
    private struct Holdings {
        var waiting: [ClaimedJob] = []
        var running: [JobID: ClaimedJob] = [:]
        /// Ended jobs whose end is not recorded yet; their leases are still renewed.
        var ending: [JobID: ClaimedJob] = [:]
        /// Ends not yet handed to the queue, in the order they came.
        var unrecorded: [JobEnd] = []
        /// Steps the pool reported of held jobs, not yet written (bounded: past
        /// ``QueueServer/maxPendingSteps``, progress reports are dropped).
        var steps: [JobEvent] = []
        /// Held jobs handed to the pool, until their end is written.
        var inPool: Set<JobID> = []
        /// Held jobs whose final event the pool has sent: their steps are all in ``steps``.
        var poolEnded: Set<JobID> = []
        /// Held jobs the pool preempted: their next start is a step of their history.
        var preempted: Set<JobID> = []
        /// Jobs someone asked to cancel, until their end is recorded.
        var cancelRequested: Set<JobID> = []
        var stopping = false
        /// When a graceful stop gives up on what is still running or unrecorded.
        var drainDeadline: ContinuousClock.Instant?
        var all: [ClaimedJob] { waiting + running.values + ending.values }

        /// Drops what is kept of the pool's view of a job whose end is written or handed back.
        mutating func forget(_ id: JobID) {
            inPool.remove(id)
            poolEnded.remove(id)
            preempted.remove(id)
        }
    }

    private var workers: Int { pool.configuration.scaling.maxWorkers }
    private var prefetch: Int { max(configuration.prefetch ?? workers, 0) }

    // MARK: - Service

    public func run() async throws {
        let logger = configuration.logger
        logger.debug("queue server started", metadata: ["host": "\(configuration.host)"])
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.heartbeat()
                await self.everyInterval(self.configuration.heartbeat) { await self.heartbeat() }
            }
            group.addTask { await self.announce() }
            let events = pool.events()
            group.addTask { await self.watchPool(events) }
            group.addTask { await self.writeLoop() }
            let cancelRequests = queue.cancelRequests()
            group.addTask {
                for await id in cancelRequests where self.holds(id) { self.cancel(id) }
            }
            group.addTask { await self.everyInterval(self.configuration.maintenanceInterval) { await self.maintain() } }
            await withGracefulShutdownHandler {
                await self.claimLoop(group: &group)
            } onGracefulShutdown: {
                let deadline = ContinuousClock.now + self.configuration.drainTimeout
                self.holdings.withLock { holdings in
                    holdings.stopping = true
                    holdings.drainDeadline = deadline
                }
                self.wakeup.signal()
            }
            await self.handBackWaiting()
            await self.drainRunning()
            group.cancelAll()
        }
        logger.debug("queue server stopped", metadata: ["host": "\(configuration.host)"])
    }

    private var isStopping: Bool { holdings.withLock { $0.stopping } || Task.isCancelled }

    private func claimLoop(group: inout DiscardingTaskGroup) async {
        var failures = 0
        while !isStopping {
            // While jobs wait here to start, claim again only once half the room is free: one
            // statement for several jobs instead of one per job that ends.
            let (room, waiting) = holdings.withLock { (workers + prefetch - $0.waiting.count - $0.running.count, $0.waiting.count) }
            if room > 0 && (waiting == 0 || room * 2 >= workers + prefetch) {
                do {
                    // A claim the database does not answer is given up on at a stop, not waited out.
                    let request = claimRequest(limit: room)
                    let claimed = try await cancelWhenGracefulShutdown { try await self.queue.claim(request) }
                    failures = 0
                    if !claimed.isEmpty {
                        holdings.withLock { $0.waiting.append(contentsOf: claimed) }
                        startWaiting(group: &group)
                        if claimed.count == room { continue }
                    }
                } catch {
                    if isStopping { break }
                    failures += 1
                    if Self.isWorthLogging(failures) {
                        configuration.logger.warning("claiming jobs failed", metadata: ["error": "\(error)", "failures": "\(failures)"])
                    }
                    await wakeup.wait(timeout: Self.backoff(failures))
                    continue
                }
            }
            startWaiting(group: &group)
            if isStopping { break }
            if holdings.withLock({ $0.waiting.isEmpty && workers + prefetch - $0.running.count > 0 }) {
                await withTaskGroup(of: Void.self) { waits in
                    waits.addTask { await self.queue.waitForWork(self.claimRequest(limit: 1), timeout: self.configuration.pollInterval) }
                    waits.addTask { await self.wakeup.wait(timeout: self.configuration.pollInterval) }
                    await waits.next()
                    waits.cancelAll()
                }
            } else {
                await wakeup.wait(timeout: configuration.pollInterval)
            }
        }
    }

    private func claimRequest(limit: Int) -> ClaimRequest {
        ClaimRequest(host: configuration.host, limit: limit, kinds: configuration.kinds ?? pool.registry.kinds,
                     capabilities: pool.capabilities)
    }

    /// Starts waiting jobs, in claim order, while workers are free.
    private func startWaiting(group: inout DiscardingTaskGroup) {
        while let claimed = holdings.withLock({ holdings -> ClaimedJob? in
            guard !holdings.stopping, let first = holdings.waiting.first else { return nil }
            // A critical job goes to the pool even when every worker is busy: the pool preempts lower work for it.
            guard holdings.running.count < workers || (first.job.priority == .critical && pool.configuration.preemption) else { return nil }
            let next = holdings.waiting.removeFirst()
            holdings.running[next.job.id] = next
            return next
        }) {
            group.addTask { await self.runJob(claimed) }
        }
    }

    private func runJob(_ claimed: ClaimedJob) async {
        let outcome: JobOutcome
        do throws(OffloadError) {
            if let failure = claimed.failure { throw failure }
            let handle = try await pool.submit(claimed.job)
            holdings.withLock { _ = $0.inPool.insert(claimed.job.id) }
            outcome = await handle.outcome
        } catch {
            outcome = JobOutcome(id: claimed.job.id, kind: claimed.job.kind, priority: claimed.job.priority, status: .failed,
                                 attempts: claimed.attempt, error: error)
        }
        if outcome.error?.code == .shuttingDown || (outcome.status == .cancelled && isStopping && !cancelRequested(claimed)) {
            // The pool stopped before the job could end: it goes back to the queue.
            _ = await retrying("handing back \(claimed.job.id)") { try await self.queue.release([claimed]) }
            holdings.withLock { holdings in
                holdings.running[claimed.job.id] = nil
                holdings.forget(claimed.job.id)
            }
            wakeup.signal()
        } else {
            record(claimed, await storingArtifact(of: claimed, outcome))
        }
    }

    /// Whether this host holds the job, waiting, running or ending.
    private func holds(_ id: JobID) -> Bool {
        holdings.withLock { holdings in
            holdings.running[id] != nil || holdings.ending[id] != nil || holdings.waiting.contains { $0.job.id == id }
        }
    }

    private func cancelRequested(_ claimed: ClaimedJob) -> Bool {
        holdings.withLock { $0.cancelRequested.contains(claimed.job.id) }
    }

    /// Records a job's end: its worker is free at once; the end joins those waiting to be
    /// written, which the writer writes together, in batches.
    private func record(_ claimed: ClaimedJob, _ outcome: JobOutcome) {
        holdings.withLock { holdings in
            holdings.running[claimed.job.id] = nil
            holdings.ending[claimed.job.id] = claimed
            holdings.unrecorded.append(JobEnd(claimed, outcome))
        }
        toWrite.signal()
        wakeup.signal()
    }

    /// Writes ends and steps as they come, one batch at a time: ends that arrive while a batch
    /// is written are written together, in one statement.
    private func writeLoop() async {
        while !Task.isCancelled {
            await writeOut()
            await toWrite.wait(timeout: .seconds(1))
        }
    }

    private func writeOut() async {
        while let (batch, ranInPool) = holdings.withLock({ holdings -> ([JobEnd], Set<JobID>)? in
            guard !holdings.unrecorded.isEmpty || !holdings.steps.isEmpty else { return nil }
            let batch = Array(holdings.unrecorded.prefix(Self.endsPerStatement))
            holdings.unrecorded.removeFirst(batch.count)
            return (batch, Set(batch.map(\.claimed.job.id)).intersection(holdings.inPool))
        }) {
            // A job's steps are written before its end: the pool sent them before its final event.
            await waitForPoolEnds(of: ranInPool)
            let steps = holdings.withLock { holdings -> [JobEvent] in
                defer { holdings.steps = [] }
                for id in ranInPool { holdings.forget(id) }
                return holdings.steps
            }
            if !steps.isEmpty { await writeSteps(steps) }
            guard !batch.isEmpty else { continue }
            let results = await recordEnds(batch)
            holdings.withLock { holdings in
                for end in batch {
                    holdings.ending[end.claimed.job.id] = nil
                    holdings.cancelRequested.remove(end.claimed.job.id)
                }
            }
            for (end, result) in zip(batch, results) where result == .leaseLost {
                configuration.logger.warning("a job's lease was lost before it ended; its end was not recorded",
                                             metadata: ["job": "\(end.claimed.job.id)", "attempt": "\(end.claimed.attempt)"])
            }
            wakeup.signal()
        }
    }

    /// Waits until the pool's final events of `jobs` have been seen, for a second at most (a
    /// stream that dropped events must not hold the ends back).
    private func waitForPoolEnds(of jobs: Set<JobID>) async {
        let deadline = ContinuousClock.now + .seconds(1)
        while !jobs.isEmpty && !holdings.withLock({ jobs.isSubset(of: $0.poolEnded) }) && ContinuousClock.now < deadline {
            await poolEnded.wait(timeout: .milliseconds(20))
        }
    }

    /// Writes steps; they are a job's history, not its state: given up on after a few tries.
    private func writeSteps(_ steps: [JobEvent]) async {
        let host = configuration.host
        if case .failure(let refusal)? = await retrying("recording \(steps.count) steps of jobs", attempts: 3, {
            try await self.queue.record(steps, host: host)
        }) {
            configuration.logger.warning("the queue refused steps of jobs; they are not in their history", metadata: ["error": "\(refusal)"])
        }
    }

    /// Follows the pool's events: the steps of held jobs the queue does not see (progress, stop
    /// requests, preemptions and the restarts after them) are kept to be written; a held job's
    /// final event says its steps are complete.
    private func watchPool(_ events: AsyncStream<PoolEvent>) async {
        let origin = pool.madeAt
        let host = configuration.host
        for await event in events {
            guard let info = event.jobInfo else { continue }
            let (kept, ended) = holdings.withLock { holdings -> (Bool, Bool) in
                guard let claimed = holdings.running[info.job] else { return (false, false) }
                if event.outcome != nil {
                    holdings.poolEnded.insert(info.job)
                    return (false, true)
                }
                guard var step = event.jobEvent(since: origin) else { return (false, false) }
                switch step.step {
                case .progress:
                    guard holdings.steps.count < Self.maxPendingSteps else { return (false, false) }
                case .stopRequested: break
                case .preempted: holdings.preempted.insert(info.job)
                case .started: guard holdings.preempted.remove(info.job) != nil else { return (false, false) }
                default: return (false, false)  // the queue writes the others itself
                }
                step.attempt = claimed.attempt
                step.host = host
                step.worker = nil
                step.pid = nil
                holdings.steps.append(step)
                return (true, false)
            }
            if ended { poolEnded.signal() }
            if kept { toWrite.signal() }
        }
    }

    /// The most steps kept unwritten; past it, progress reports are dropped.
    static let maxPendingSteps = 10_000

    /// The most ends one ``DurableQueue/finish(_:)`` records.
    static let endsPerStatement = 500

    /// Records `batch`, one result per end (`nil`: given up on, its lease left to expire). A
    /// batch the queue refuses (``OffloadError/Code/unstorable``: a value its database cannot
    /// hold) is split until the end it refuses is alone; that end is recorded as a failure of its
    /// own, so one bad end never holds back the others.
    private func recordEnds(_ batch: [JobEnd]) async -> [FinishResult?] {
        let written: [Result<FinishResult, OffloadError>]
        do { written = try await splittingRefusals(batch[...]) { try await self.finishing(Array($0)) } } catch {
            return batch.map { _ in nil }
        }
        var results: [FinishResult?] = []
        for (end, result) in zip(batch, written) {
            switch result {
            case .success(let recorded):
                results.append(recorded)
            case .failure(let refusal) where end.outcome.error?.code == .unstorable:
                // Even its failure was refused: nothing more can be written for it.
                configuration.logger.error("the queue refused the end of a job and its failure; its lease is left to expire",
                                           metadata: ["job": "\(end.claimed.job.id)", "error": "\(refusal)"])
                results.append(nil)
            case .failure(let refusal):
                var failed = end
                let ran = end.outcome.status == .completed ? "completed" : "ended \(end.outcome.status.rawValue)"
                failed.outcome.status = .failed
                failed.outcome.result = nil
                failed.outcome.error = OffloadError(.unstorable, "the job \(ran) on \(configuration.host), but its end could not be stored: \(refusal.message)")
                configuration.logger.warning("a job's end was refused by the queue; it is recorded as failed",
                                             metadata: ["job": "\(end.claimed.job.id)", "error": "\(refusal)"])
                results += await recordEnds([failed])
            }
        }
        return results
    }

    /// ``DurableQueue/finish(_:)`` tried until it answers: a refusal is thrown, giving up throws
    /// `CancellationError`.
    private func finishing(_ batch: [JobEnd]) async throws -> [FinishResult] {
        switch await retrying("recording the end of \(batch.count) jobs", { try await self.queue.finish(batch) }) {
        case .success(let results)?: return results
        case .failure(let refusal)?: throw refusal
        case nil: throw CancellationError()
        }
    }

    /// The outcome with the file its result names stored in the queue (or failed, when the file
    /// cannot be read or is over the queue's cap).
    private func storingArtifact(of claimed: ClaimedJob, _ outcome: JobOutcome) async -> JobOutcome {
        guard let folder = configuration.artifactFolder, let file = Artifact.file(of: outcome, under: folder) else { return outcome }
        var members = file.members
        let (path, name) = (file.path, file.name)
        var failed = outcome
        failed.status = .failed
        failed.result = nil
        let bytes: [UInt8]
        // Never more than the queue keeps: a huge output is refused without being read whole.
        let limit = queue.maxArtifactBytes
        do { bytes = try RegularFile.read(path, maxBytes: limit) } catch {
            if case .tooLarge = error {
                failed.error = OffloadError(.resourceLimitExceeded,
                                            "\(name) is over the queue's artifact cap of \(OffloadError.grouped(limit)) bytes")
            } else {
                failed.error = OffloadError(.handlerFailed, "the job's file \(name) could not be read to store it: \(error)")
            }
            return failed
        }
        let stored = await retrying("storing the file of \(claimed.job.id)") { () async throws -> Result<Artifact, OffloadError> in
            do { return .success(try await self.queue.storeArtifact(bytes, contentType: Artifact.contentType(of: name), name: name, job: claimed)) }
            catch let error as OffloadError where ![.unstorable, .queueUnavailable, .timedOut].contains(error.code) { return .failure(error) }
        }
        switch stored {
        case .success(.success(let artifact))?:
            // The host's own path is not for the queue's readers: the artifact names the file.
            members.removeAll { $0.key == "file" }
            members.append(("artifact", artifact.json))
            if configuration.removesStoredFiles { unlink(path) }
            var done = outcome
            done.result = .json(.object(members))
            return done
        case .success(.failure(let error))?, .failure(let error)?:
            failed.error = error
            return failed
        case nil:
            failed.error = OffloadError(.handlerFailed, "the job's file \(name) could not be stored in the queue")
            return failed
        }
    }

    // MARK: - Leases, cancellation, upkeep

    /// Tells the queue what this host serves, trying again each heartbeat until it is heard.
    private func announce() async {
        while !Task.isCancelled {
            do {
                try await queue.announce(claimRequest(limit: 0))
                return
            } catch {
                do { try await Task.sleep(for: configuration.heartbeat) } catch { return }
            }
        }
    }

    private func heartbeat() async {
        // With no job held, the heartbeat still says this host is alive.
        let held = holdings.withLock { $0.all }
        do {
            let renewal = try await queue.renew(held, host: configuration.host)
            renewalFailures.withLock { $0 = 0 }
            apply(renewal)
        } catch {
            let failures = renewalFailures.withLock { failures in
                failures += 1
                return failures
            }
            if Self.isWorthLogging(failures) {
                configuration.logger.warning("renewing leases failed", metadata: ["error": "\(error)", "jobs": "\(held.count)", "failures": "\(failures)"])
            }
        }
    }

    /// Stops jobs whose lease is lost or whose cancel was asked for. A running job whose lease
    /// is lost is stopped; its end is then refused by the queue's fence, which records it.
    func apply(_ renewal: LeaseRenewal) {
        let dropped = holdings.withLock { holdings -> Bool in
            let before = holdings.waiting.count
            holdings.waiting.removeAll { renewal.lost.contains($0.job.id) }
            return holdings.waiting.count != before
        }
        if dropped { wakeup.signal() }
        for id in renewal.lost { pool.cancel(id) }
        for id in renewal.cancelRequested { cancel(id) }
    }

    /// Cancels a job this host holds: a waiting one ends at once, a running one is asked to stop.
    public func cancel(_ id: JobID) {
        let waiting = holdings.withLock { holdings -> ClaimedJob? in
            holdings.cancelRequested.insert(id)
            guard let index = holdings.waiting.firstIndex(where: { $0.job.id == id }) else { return nil }
            return holdings.waiting.remove(at: index)
        }
        if let waiting {
            record(waiting, JobOutcome(id: id, kind: waiting.job.kind, priority: waiting.job.priority, status: .cancelled,
                                       attempts: waiting.attempt, error: OffloadError(.cancelled, "cancelled before it started")))
        } else {
            pool.cancel(id)
        }
    }

    private func maintain() async {
        do {
            try await queue.maintain()
            maintenanceFailures.withLock { $0 = 0 }
        } catch {
            let failures = maintenanceFailures.withLock { failures in
                failures += 1
                return failures
            }
            if Self.isWorthLogging(failures) {
                configuration.logger.warning("queue upkeep failed", metadata: ["error": "\(error)", "failures": "\(failures)"])
            }
        }
    }

    // MARK: - Shutdown

    private func handBackWaiting() async {
        let waiting = holdings.withLock { holdings -> [ClaimedJob] in
            defer { holdings.waiting = [] }
            return holdings.waiting
        }
        guard !waiting.isEmpty else { return }
        _ = await retrying("handing back \(waiting.count) jobs", attempts: 5) { try await self.queue.release(waiting) }
    }

    /// Waits for running jobs to end and their ends to be recorded, until the drain deadline;
    /// then asks the pool to stop what still runs (those jobs are handed back by their tasks,
    /// within a second more).
    private func drainRunning() async {
        let deadline = holdings.withLock { $0.drainDeadline } ?? ContinuousClock.now + configuration.drainTimeout
        while holdings.withLock({ !$0.running.isEmpty || !$0.ending.isEmpty }) {
            if ContinuousClock.now >= deadline {
                let (running, ending) = holdings.withLock { (Array($0.running.keys), $0.ending.count) }
                configuration.logger.info("drain timeout: stopping running jobs", metadata: ["jobs": "\(running.count)", "unrecorded": "\(ending)"])
                for id in running { pool.cancel(id) }
                let grace = ContinuousClock.now + .seconds(1)
                while holdings.withLock({ !$0.running.isEmpty }) && ContinuousClock.now < grace {
                    await wakeup.wait(timeout: .milliseconds(50))
                }
                break
            }
            await wakeup.wait(timeout: min(.milliseconds(200), max(deadline - .now, .zero)))
        }
    }

    // MARK: - Helpers

    private func everyInterval(_ interval: Duration, _ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await body()
        }
    }

    /// Runs `operation` until it succeeds, waiting longer after each failure, and logging the
    /// 1st, 2nd, 4th, 8th… failure only (an outage is a few lines, not one a try).
    /// - Returns: its value; `.failure` when the queue refuses it for good
    ///   (``OffloadError/Code/unstorable``: trying again cannot help); `nil` when it gave up:
    ///   after `attempts` failures, once a stopping server is past its drain deadline, or when
    ///   the task is cancelled.
    private func retrying<T: Sendable>(_ what: String, attempts: Int? = nil,
                                       _ operation: @Sendable () async throws -> T) async -> Result<T, OffloadError>? {
        var failures = 0
        while true {
            do { return .success(try await withinDrain(operation)) } catch let error as OffloadError where error.code == .unstorable {
                return .failure(error)
            } catch {
                failures += 1
                let deadline = holdings.withLock { $0.drainDeadline }
                let givingUp = Task.isCancelled || attempts.map { failures >= $0 } == true || deadline.map { ContinuousClock.now >= $0 } == true
                if givingUp || Self.isWorthLogging(failures) {
                    configuration.logger.warning("\(what) failed\(givingUp ? "; giving up" : "")",
                                                 metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
                if givingUp { return nil }
                var pause = Self.backoff(failures)
                if let deadline { pause = min(pause, max(deadline - .now, .milliseconds(10))) }
                do { try await Task.sleep(for: pause) } catch { return nil }
            }
        }
    }

    /// `operation`, given up on (`CancellationError`) at the drain deadline once the server stops:
    /// a statement the queue does not answer must not hold the stop.
    private func withinDrain<T: Sendable>(_ operation: @Sendable () async throws -> T) async throws -> T {
        guard let deadline = holdings.withLock({ $0.drainDeadline }) else { return try await operation() }
        return try await withoutActuallyEscaping(operation) { operation in
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await operation() }
                group.addTask {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
                defer { group.cancelAll() }
                guard let value = try await group.next() ?? nil else { throw CancellationError() }
                return value
            }
        }
    }

    /// Whether the `failures`th failure in a row is logged: the 1st, 2nd, 4th, 8th…
    package static func isWorthLogging(_ failures: Int) -> Bool { failures > 0 && failures & (failures - 1) == 0 }

    /// The wait after `failures` failures in a row (1 or more): 100 ms doubling, at most `cap`.
    package static func backoff(_ failures: Int, cap: Duration = .seconds(5)) -> Duration {
        min(.milliseconds(100 << min(max(failures, 1) - 1, 6)), cap)
    }
}
