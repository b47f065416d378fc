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
    let state: Mutex<QueueServerState>
    /// Signalled when a job the server holds ends, is handed back or stops waiting: the claim
    /// loop and the drain look again.
    let wakeup = Wakeup()
    /// Signalled when there are ends or steps to write.
    let toWrite = Wakeup()
    let renewalFailures = Mutex(0)
    let maintenanceFailures = Mutex(0)

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
        // Observed before the first claim: no event of a held job is missed. An observer, not a
        // stream: it sees a job's last event before its handle answers, for no task's wake-up.
        let (origin, host) = (pool.madeAt, configuration.host)
        let observation = pool.observeEvents { [self] event in
            if let action = state.withLock({ $0.poolEvent(event, origin: origin, host: host) }) { perform(action) }
        }
        defer { pool.stopObserving(observation) }
        let cancelRequests = queue.cancelRequests()
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.heartbeat()
                await self.everyInterval(self.configuration.heartbeat) { await self.heartbeat() }
            }
            group.addTask { await self.announce() }
            group.addTask { await self.everyInterval(self.configuration.maintenanceInterval) { await self.maintain() } }
            group.addTask { await self.insertTicks() }
            group.addTask { await self.writeLoop() }
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

    /// Hands the jobs claimed but not started back to the queue at once (no lease wait): those
    /// waiting here, and those in the pool's queue (withdrawn, their tasks hand them back).
    private func handBackWaiting() async {
        for id in state.withLock({ $0.unstartedInPool }) { _ = pool.withdraw(id) }
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
                        // Fewer than asked may be all a kind's limit left room for in the part of
                        // it this claim could take, not all there is: only an empty claim waits.
                        start(state.withLock { $0.claimed(claimed) }, group: &group)
                        continue
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
            capabilities: pool.capabilities, localRoom: localRoom())
    }

    /// What the pool's own limits leave of each kind they hold: none of a paused kind, the rest
    /// of a limit on running jobs once the jobs this host holds are counted. (A rate is kept by
    /// the pool as the jobs start.)
    private func localRoom() -> [String: Int] {
        let limits = pool.kindLimits
        guard !limits.isEmpty else { return [:] }
        let held = state.withLock { $0.held.reduce(into: [String: Int]()) { $0[$1.job.kind, default: 0] += 1 } }
        var room: [String: Int] = [:]
        for (kind, limit) in limits {
            if limit.isPaused {
                room[kind] = 0
            } else if let maxConcurrent = limit.maxConcurrent {
                room[kind] = max(maxConcurrent - held[kind, default: 0], 0)
            }
        }
        return room
    }

    /// Runs each job in the pool, as a task of the claim loop's group that goes on with the
    /// next waiting job when its own ends (no task made and no claim loop woken per job).
    private func start(_ jobs: [ClaimedJob], group: inout DiscardingTaskGroup) {
        for claimed in jobs {
            group.addTask {
                var next: ClaimedJob? = claimed
                while let claimed = next {
                    await self.runJob(claimed)
                    next = self.state.withLock { $0.startNext() }
                }
            }
        }
    }

    /// Performs what the state asked for.
    func perform(_ actions: [QueueServerState.Action]) {
        for action in actions { perform(action) }
    }

    func perform(_ action: QueueServerState.Action) {
        switch action {
        case .stopInPool(let id): pool.cancel(id)
        case .write: toWrite.signal()
        case .claim: wakeup.signal()
        }
    }

    private func runJob(_ claimed: ClaimedJob) async {
        var outcome: JobOutcome
        do throws(OffloadError) {
            if let failure = claimed.failure { throw failure }
            var job = claimed.job
            job.queueHoldsAttempts = true
            // The queue released it once its dependencies ended: the pool waits for none.
            job.dependsOn = []
            let handle = try await pool.submit(job)
            state.withLock { $0.handedToPool(claimed.job.id) }
            outcome = await handle.outcome
        } catch {
            outcome = JobOutcome(
                id: claimed.job.id, kind: claimed.job.kind, priority: claimed.job.priority, status: .failed,
                attempts: claimed.attempt, error: error)
        }
        if outcome.error?.snoozeFor != nil && claimed.attempt >= OffloadError.maxAttempts { outcome.error = .snoozedTooOften }
        if state.withLock({ $0.isHandedBack(claimed, outcome) }) {
            // The pool stopped before the job could end: it goes back to the queue.
            _ = await retrying("handing back \(claimed.job.id)") { try await self.queue.release([claimed]) }
            state.withLock { $0.handedBack(claimed.job.id) }
        } else {
            let stored = await storingArtifact(of: claimed, outcome)
            perform(state.withLock { $0.ended(JobEnd(claimed, stored)) })
        }
        // The claim loop looks again when a claim is due or the server is stopping; the next
        // waiting job is this task's to start.
        if state.withLock({ $0.claimLimit != nil || !$0.isServing }) { wakeup.signal() }
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

    /// Inserts the jobs of the queue's due schedule ticks, at each tick (checked at least every
    /// second, so that a schedule added elsewhere starts on time) until the task is cancelled.
    private func insertTicks() async {
        var failures = 0
        while !Task.isCancelled {
            var wait: Duration = .seconds(1)
            do {
                if let due = try await queue.insertDueTicks() { wait = min(wait, due) }
                failures = 0
            } catch {
                failures += 1
                if Self.isWorthLogging(failures) {
                    configuration.logger.warning("inserting schedule ticks failed", metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
            }
            try? await Task.sleep(for: max(wait, .milliseconds(5)))
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
}
