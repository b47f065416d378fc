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
    private let state: Mutex<QueueServerState>
    /// Signalled when a job the server holds ends, is handed back or stops waiting: the claim
    /// loop and the drain look again.
    private let wakeup = Wakeup()
    /// Signalled when there are ends or steps to write.
    private let toWrite = Wakeup()
    private let renewalFailures = Mutex(0)
    private let maintenanceFailures = Mutex(0)

    public init(queue: any DurableQueue, pool: WorkerPool, configuration: Configuration = Configuration()) {
        self.queue = queue
        self.pool = pool
        self.configuration = configuration
        let workers = pool.configuration.scaling.maxWorkers
        state = Mutex(
            QueueServerState(
                workers: workers, prefetch: configuration.prefetch ?? workers,
                preempts: pool.configuration.preemption))
    }

    /// A host id unique to this process: the host name, the pid and a random part.
    public static func defaultHostID() -> String {
        "\(SystemInfo.hostName):\(SystemInfo.pid):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    // MARK: - Service

    public func run() async throws {
        let logger = configuration.logger
        logger.debug("queue server started", metadata: ["host": "\(configuration.host)"])
        // Subscribed before the first claim: no event of a held job is missed.
        let events = pool.events()
        let cancelRequests = queue.cancelRequests()
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.heartbeat()
                await self.everyInterval(self.configuration.heartbeat) { await self.heartbeat() }
            }
            group.addTask { await self.announce() }
            group.addTask { await self.everyInterval(self.configuration.maintenanceInterval) { await self.maintain() } }
            group.addTask { await self.writeLoop() }
            group.addTask { await self.watchPool(events) }
            group.addTask {
                for await id in cancelRequests { self.cancel(id) }
            }
            await withGracefulShutdownHandler {
                await self.claimLoop(group: &group)
            } onGracefulShutdown: {
                self.stop()
            }
            self.stop()
            await self.handBackWaiting()
            await self.drainRunning()
            group.cancelAll()
        }
        logger.debug("queue server stopped", metadata: ["host": "\(configuration.host)"])
    }

    /// A graceful stop: no more claims or starts; running jobs have until the drain deadline.
    private func stop() {
        let deadline = ContinuousClock.now + configuration.drainTimeout
        state.withLock { $0.stop(deadline: deadline) }
        wakeup.signal()
    }

    /// Hands the jobs claimed but not started back to the queue at once (no lease wait).
    private func handBackWaiting() async {
        let waiting = state.withLock { $0.takeWaiting() }
        guard !waiting.isEmpty else { return }
        _ = await retrying("handing back \(waiting.count) jobs", attempts: 5) { try await self.queue.release(waiting) }
    }

    private var isStopping: Bool { !state.withLock { $0.isServing } || Task.isCancelled }

    private func claimLoop(group: inout DiscardingTaskGroup) async {
        var failures = 0
        while !isStopping {
            if let limit = state.withLock({ $0.claimLimit }) {
                do {
                    // A claim the database does not answer is given up on at a stop, not waited out.
                    let request = claimRequest(limit: limit)
                    let claimed = try await cancelWhenGracefulShutdown { try await self.queue.claim(request) }
                    failures = 0
                    if !claimed.isEmpty {
                        start(state.withLock { $0.claimed(claimed) }, group: &group)
                        if claimed.count == limit { continue }
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
            start(state.withLock { $0.startable() }, group: &group)
            if isStopping { break }
            if state.withLock({ $0.waitsForWork }) {
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
        ClaimRequest(
            host: configuration.host, limit: limit, kinds: configuration.kinds ?? pool.registry.kinds,
            capabilities: pool.capabilities)
    }

    /// Runs each job in the pool, as a task of the claim loop's group.
    private func start(_ jobs: [ClaimedJob], group: inout DiscardingTaskGroup) {
        for claimed in jobs { group.addTask { await self.runJob(claimed) } }
    }

    /// Performs what the state asked for.
    private func perform(_ actions: [QueueServerState.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: QueueServerState.Action) {
        switch action {
        case .stopInPool(let id): pool.cancel(id)
        case .write: toWrite.signal()
        }
    }

    private func runJob(_ claimed: ClaimedJob) async {
        let outcome: JobOutcome
        do throws(OffloadError) {
            if let failure = claimed.failure { throw failure }
            let handle = try await pool.submit(claimed.job)
            state.withLock { $0.handedToPool(claimed.job.id) }
            outcome = await handle.outcome
        } catch {
            outcome = JobOutcome(
                id: claimed.job.id, kind: claimed.job.kind, priority: claimed.job.priority, status: .failed,
                attempts: claimed.attempt, error: error)
        }
        if state.withLock({ $0.isHandedBack(claimed, outcome) }) {
            // The pool stopped before the job could end: it goes back to the queue.
            _ = await retrying("handing back \(claimed.job.id)") { try await self.queue.release([claimed]) }
            state.withLock { $0.handedBack(claimed.job.id) }
        } else {
            let stored = await storingArtifact(of: claimed, outcome)
            perform(state.withLock { $0.ended(JobEnd(claimed, stored)) })
        }
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
        var blockedSince: ContinuousClock.Instant?
        while true {
            // A job's steps are written before its end: the pool sends them before its final
            // event, which is waited for a second at most (a stream that dropped events must not
            // hold the ends back).
            let force = blockedSince.map { ContinuousClock.now - $0 >= .seconds(1) } ?? false
            guard let write = state.withLock({ $0.nextWrite(force: force) }) else {
                guard state.withLock({ $0.hasUnwrittenEnds }) else { return }
                blockedSince = blockedSince ?? .now
                await toWrite.wait(timeout: .milliseconds(50))
                continue
            }
            blockedSince = nil
            if !write.steps.isEmpty { await writeSteps(write.steps) }
            guard !write.ends.isEmpty else { continue }
            let results = await recordEnds(write.ends)
            for (end, result) in zip(write.ends, results) where result == .leaseLost {
                configuration.logger.warning(
                    "a job's lease was lost before it ended; its end was not recorded",
                    metadata: ["job": "\(end.claimed.job.id)", "attempt": "\(end.claimed.attempt)"])
            }
            state.withLock { $0.written(write.ends) }
            wakeup.signal()
        }
    }

    /// Writes steps; they are a job's history, not its state: given up on after a few tries.
    private func writeSteps(_ steps: [JobEvent]) async {
        let host = configuration.host
        if case .failure(let refusal)? = await retrying(
            "recording \(steps.count) steps of jobs", attempts: 3,
            {
                try await self.queue.record(steps, host: host)
            })
        {
            configuration.logger.warning("the queue refused steps of jobs; they are not in their history", metadata: ["error": "\(refusal)"])
        }
    }

    /// Follows the pool's events for the steps of held jobs the queue does not see itself.
    private func watchPool(_ events: AsyncStream<PoolEvent>) async {
        let (origin, host) = (pool.madeAt, configuration.host)
        for await event in events {
            if let action = state.withLock({ $0.poolEvent(event, origin: origin, host: host) }) { perform(action) }
        }
    }

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
                configuration.logger.error(
                    "the queue refused the end of a job and its failure; its lease is left to expire",
                    metadata: ["job": "\(end.claimed.job.id)", "error": "\(refusal)"])
                results.append(nil)
            case .failure(let refusal):
                var failed = end
                let ran = end.outcome.status == .completed ? "completed" : "ended \(end.outcome.status.rawValue)"
                failed.outcome.status = .failed
                failed.outcome.result = nil
                failed.outcome.error = OffloadError(
                    .unstorable, "the job \(ran) on \(configuration.host), but its end could not be stored: \(refusal.message)")
                configuration.logger.warning(
                    "a job's end was refused by the queue; it is recorded as failed",
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
                failed.error = OffloadError(
                    .resourceLimitExceeded,
                    "\(name) is over the queue's artifact cap of \(OffloadError.grouped(limit)) bytes")
            } else {
                failed.error = OffloadError(.handlerFailed, "the job's file \(name) could not be read to store it: \(error)")
            }
            return failed
        }
        let stored = await retrying("storing the file of \(claimed.job.id)") { () async throws -> Result<Artifact, OffloadError> in
            do {
                return .success(try await self.queue.storeArtifact(bytes, contentType: Artifact.contentType(of: name), name: name, job: claimed))
            } catch let error as OffloadError where ![.unstorable, .queueUnavailable, .timedOut].contains(error.code) { return .failure(error) }
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
        let held = state.withLock { $0.held }
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
                configuration.logger.warning(
                    "renewing leases failed", metadata: ["error": "\(error)", "jobs": "\(held.count)", "failures": "\(failures)"])
            }
        }
    }

    /// Stops jobs whose lease is lost or whose cancel was asked for. A running job whose lease
    /// is lost is stopped; its end is then refused by the queue's fence, which records it.
    func apply(_ renewal: LeaseRenewal) {
        perform(state.withLock { $0.renewed(renewal) })
        wakeup.signal()
    }

    /// Cancels a job this host holds: a waiting one ends at once, a running one is asked to stop.
    public func cancel(_ id: JobID) {
        perform(state.withLock { $0.cancel(id) })
        wakeup.signal()
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

    /// Waits for running jobs to end and their ends to be recorded, until the drain deadline;
    /// then asks the pool to stop what still runs (those jobs are handed back by their tasks,
    /// within a second more).
    private func drainRunning() async {
        let deadline = state.withLock { $0.drainDeadline } ?? ContinuousClock.now + configuration.drainTimeout
        while !state.withLock({ $0.isDrained }) {
            if ContinuousClock.now >= deadline {
                let (running, ending) = state.withLock { (Array($0.running.keys), $0.ending.count) }
                configuration.logger.info("drain timeout: stopping running jobs", metadata: ["jobs": "\(running.count)", "unrecorded": "\(ending)"])
                for id in running { pool.cancel(id) }
                let grace = ContinuousClock.now + .seconds(1)
                while state.withLock({ !$0.running.isEmpty }) && ContinuousClock.now < grace {
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
    private func retrying<T: Sendable>(
        _ what: String, attempts: Int? = nil,
        _ operation: @Sendable () async throws -> T
    ) async -> Result<T, OffloadError>? {
        var failures = 0
        while true {
            do { return .success(try await withinDrain(operation)) } catch let error as OffloadError where error.code == .unstorable {
                return .failure(error)
            } catch {
                failures += 1
                let deadline = state.withLock { $0.drainDeadline }
                let givingUp = Task.isCancelled || attempts.map { failures >= $0 } == true || deadline.map { ContinuousClock.now >= $0 } == true
                if givingUp || Self.isWorthLogging(failures) {
                    configuration.logger.warning(
                        "\(what) failed\(givingUp ? "; giving up" : "")",
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
        guard let deadline = state.withLock({ $0.drainDeadline }) else { return try await operation() }
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
