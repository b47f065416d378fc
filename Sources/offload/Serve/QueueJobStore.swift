import Foundation
import Logging
import Offload
import OffloadPostgres
import OffloadServer
import ServiceLifecycle
import Synchronization

/// The jobs of a PostgreSQL queue, as `offload serve --queue URL` shows them: any host's, read
/// from the queue; this host's pool (serving the queue beside it) gives the workers and latencies.
///
/// Run it as a service: it polls the queue's change feed for the dashboard's streams.
final class QueueJobStore: JobStore, Service, Sendable {
    let queue: PostgresQueue
    let pool: WorkerPool
    /// How often the change feed and a job's events are read.
    let pollInterval: Duration

    /// The bounds of each event stream.
    let streamLimits: StreamLimits

    private let watchers = Mutex([UInt64: BoundedStream<JobView>]())
    private let nextWatcher = Atomic<UInt64>(0)
    private let cpu = Mutex(WorkerCPU())
    private let hostsSeen = Mutex<([PostgresQueue.ServingHost], ContinuousClock.Instant)?>(nil)

    var mode: String { "postgres" }
    var kinds: [String] { pool.registry.kinds }

    /// The pool this host draws cards in (shown beside the others).
    let cardPool: WorkerPool?

    init(queue: PostgresQueue, pool: WorkerPool, cardPool: WorkerPool? = nil, pollInterval: Duration = .milliseconds(500),
         streamLimits: StreamLimits = StreamLimits()) {
        self.queue = queue
        self.pool = pool
        self.cardPool = cardPool
        self.pollInterval = pollInterval
        self.streamLimits = streamLimits
    }

    /// Reads the change feed while someone follows it, until the service group shuts down.
    /// With no one following it keeps only the newest event's number (one index lookup), so that
    /// a stream opened now misses nothing recorded after it opened.
    func run() async throws {
        var last: Int64?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // A read the database does not answer is given up on at a stop.
                let queue = self.queue
                if let seen = last, watchers.withLock({ !$0.isEmpty }) {
                    let (jobs, newest) = try await cancelWhenGracefulShutdown { try await queue.changes(after: seen) }
                    last = newest
                    let views = jobs.map(Self.view)
                    watchers.withLock { watchers in
                        for view in views {
                            for (token, watcher) in watchers {
                                watcher.push(view, bytes: JobView.summaryBytes)
                                if watcher.isEnded { watchers[token] = nil }
                            }
                        }
                    }
                } else {
                    last = try await cancelWhenGracefulShutdown { try await queue.lastEventSeq() }
                }
            } catch {
                // The queue is away for now: the next round tries again.
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.pollInterval) }
        }
        watchers.withLock { watchers in
            for watcher in watchers.values { watcher.finish() }
            watchers = [:]
        }
    }

    func check(_ job: Job) throws(OffloadError) {
        try queue.check(PostgresQueue.Submission(job))
    }

    func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID] {
        let hosts = try await servingHosts()
        for (index, job) in jobs.enumerated() {
            do throws(OffloadError) { try PostgresQueue.checkServed(job, by: hosts) } catch {
                throw OffloadError(error.code, jobs.count > 1 ? "jobs[\(index)]: \(error.message)" : error.message)
            }
        }
        return try await answering { try await self.queue.submit(jobs.map { PostgresQueue.Submission($0) }) }
    }

    /// The hosts serving the queue, read at most once a second.
    private func servingHosts() async throws(OffloadError) -> [PostgresQueue.ServingHost] {
        let now = ContinuousClock.now
        if let (hosts, at) = hostsSeen.withLock({ $0 }), now - at < .seconds(1) { return hosts }
        let hosts = try await answering { try await self.queue.servingHosts() }
        hostsSeen.withLock { $0 = (hosts, now) }
        return hosts
    }

    func job(_ id: JobID) async throws -> JobView? {
        try await answering { try await self.queue.job(id) }.map(Self.view)
    }

    func jobs(_ query: JobQuery) async throws -> JobPage {
        let state: DurableJobState? = query.state.map { $0 == .queued ? .available : DurableJobState(rawValue: $0.rawValue)! }
        let found = try await answering {
            try await self.queue.jobs(state: state, kind: query.kind, limit: query.limit + 1, before: query.after)
        }
        let jobs = found.prefix(query.limit).map(Self.view)
        return JobPage(jobs: jobs, next: found.count > query.limit ? jobs.last?.id : nil)
    }

    func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView? {
        do { return Self.view(try await queue.finished(id, timeout: timeout)) } catch let error as OffloadError where error.code == .timedOut {
            return try await job(id)
        } catch let error as OffloadError where error.code == .invalidPayload {
            return nil
        }
    }

    func cancel(_ id: JobID) async throws -> CancelAnswer {
        switch try await answering({ try await self.queue.cancel(id) }) {
        case .cancelled: .cancelled
        case .requested: .requested
        case .alreadyFinished: .alreadyFinished
        case .notFound: .notFound
        }
    }

    func retry(_ id: JobID) async throws -> Bool {
        try await answering { try await self.queue.retry(id) }
    }

    /// The events recorded so far, then new ones as they are recorded, read every poll interval.
    func events(of id: JobID) async throws -> BoundedStream<JobEventView>? {
        guard try await job(id) != nil else { return nil }
        let stream = BoundedStream<JobEventView>(maxCount: streamLimits.maxEvents, maxBytes: streamLimits.maxBytes)
        let queue = self.queue
        let interval = pollInterval
        let reader = Task {
            var sent = 0
            while !Task.isCancelled && !stream.isEnded {
                // The job before its events: an end recorded between the two reads is then read too.
                let job: StoredJob?
                do { job = try await queue.job(id) } catch {
                    try? await Task.sleep(for: interval)
                    continue
                }
                guard let job else { break }  // gone (retention): nothing more will come
                guard let events = try? await queue.events(of: id) else {
                    try? await Task.sleep(for: interval)
                    continue
                }
                for (index, event) in events.enumerated().dropFirst(sent) {
                    let shown = Self.event(event, sequence: index + 1, finalState: job.state.isFinished && index == events.count - 1 ? job : nil)
                    stream.push(shown, bytes: 200 + (shown.message?.utf8.count ?? 0))
                }
                sent = events.count
                if job.state.isFinished { break }
                try? await Task.sleep(for: interval)
            }
            stream.finish()
        }
        stream.onTermination { reader.cancel() }
        return stream
    }

    func changes() -> BoundedStream<JobView> {
        let stream = BoundedStream<JobView>(maxCount: streamLimits.maxEvents, maxBytes: streamLimits.maxBytes)
        let token = nextWatcher.add(1, ordering: .relaxed).newValue
        watchers.withLock { $0[token] = stream }
        stream.onTermination { [weak self] in self?.watchers.withLock { _ = $0.removeValue(forKey: token) } }
        return stream
    }

    func artifact(_ sha256: String) async throws -> StoredFile? {
        guard let (artifact, data) = try await answering({ try await self.queue.artifact(sha256) }) else { return nil }
        return StoredFile(bytes: Array(data), contentType: artifact.contentType, sha256: artifact.sha256)
    }

    /// A card drawn before by any host (a completed job of the same key) is served from its
    /// artifact; otherwise the job goes to the queue under the key, so that hosts asked for the
    /// same card at once draw it once.
    func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String) {
        let uniqueKey = "offload-card:" + key
        let queue = self.queue
        if let done = try? await queue.completedJob(uniqueKey: uniqueKey), let file = try? await file(of: done) { return (file.bytes, file.contentType) }
        // Drawn by a card pool (a service host's own share of workers), never behind long jobs.
        var card = job
        card.requiredCapabilities.insert(OffloadService.cardCapability)
        let submitted = card
        let id = try await answering { try await queue.submit(submitted, uniqueKey: uniqueKey) }
        let ended: StoredJob
        do { ended = try await queue.finished(id, timeout: timeout) } catch let error as OffloadError {
            if error.code == .timedOut { _ = try? await queue.cancel(id) }
            throw error
        } catch {
            throw OffloadError(.queueUnavailable, "the queue did not answer: \(error)")
        }
        guard ended.state == .completed else { throw ended.error ?? OffloadError(.cancelled, "the card's job was cancelled") }
        guard let file = try? await file(of: ended) else { throw OffloadError(.handlerFailed, "the card's job stored no file") }
        return (file.bytes, file.contentType)
    }

    private func file(of job: StoredJob) async throws -> StoredFile? {
        guard case .string(let sha256)? = job.result?["artifact"]?["sha256"] else { return nil }
        return try await artifact(sha256)
    }

    func overview() async throws -> Overview {
        let status = try await answering { try await self.queue.status() }
        let metrics = pool.metrics
        var overview = Overview()
        for (state, byPriority) in status.counts {
            let total = byPriority.values.reduce(0, +)
            overview.submitted += total
            switch state {
            case .available: overview.queued.merge(byPriority, uniquingKeysWith: +)
            case .scheduled: overview.delayed += total
            case .running: overview.running += total
            case .completed: overview.completed += total
            case .failed: overview.failed += total
            case .cancelled: overview.cancelled += total
            }
        }
        if metrics.completed + metrics.failed > 0 {
            (overview.waitP50, overview.waitP99, overview.runP50, overview.runP99) = (metrics.waitP50, metrics.waitP99, metrics.runP50, metrics.runP99)
        }
        let cardWorkers = WorkerCPU.cardWorkers(of: cardPool)
        overview.workers = cpu.withLock { $0.workers(metrics.perWorker + cardWorkers) }
        return overview
    }

    func isReady() async -> Bool {
        (try? await queue.schemaVersion()) != nil
    }

    // MARK: - As the API shows them

    static func view(_ job: StoredJob) -> JobView {
        let state: JobView.State = switch job.state {
        case .available: .queued
        case .scheduled: .scheduled
        case .running: .running
        case .completed: .completed
        case .failed: .failed
        case .cancelled: .cancelled
        }
        return JobView(id: job.id, kind: job.kind, priority: job.priority, state: state, attempts: job.attempt,
                       progress: state == .completed ? 1 : nil, createdAt: job.createdAt, startedAt: job.startedAt,
                       finishedAt: job.finishedAt, payload: job.payload, result: job.result, error: job.error)
    }

    /// A stored event as a stream event: `queued` → queued, `started`, `retried`/failed with a
    /// retry → retrying, the job's end → ended (with how it ended).
    static func event(_ event: StoredJobEvent, sequence: Int, finalState job: StoredJob?) -> JobEventView {
        if let job {
            return JobEventView(sequence: sequence, kind: .ended, at: event.at, attempt: event.attempt, message: event.message,
                                state: view(job).state, error: job.error)
        }
        let kind: JobEventView.Kind
        let state: JobView.State
        switch event.type {
        case "queued", "submitted": (kind, state) = (.queued, .queued)
        case "started": (kind, state) = (.started, .running)
        case "retryScheduled": (kind, state) = (.retrying, .scheduled)
        case "retried", "retrying", "rescued", "released", "leaseLost": (kind, state) = (.retrying, .queued)
        // An end read before the job that it ended: ended all the same.
        case "completed": (kind, state) = (.ended, .completed)
        case "failed": (kind, state) = (.ended, .failed)
        case "cancelled": (kind, state) = (.ended, .cancelled)
        default: (kind, state) = (.progress, .running)
        }
        return JobEventView(sequence: sequence, kind: kind, at: event.at, attempt: event.attempt, message: event.message ?? event.type, state: state)
    }

    /// The body's answer, or ``OffloadError/Code/queueUnavailable`` when the queue did not give one.
    private func answering<T>(_ body: () async throws -> T) async throws(OffloadError) -> T {
        do { return try await body() } catch let error as OffloadError { throw error } catch {
            throw OffloadError(.queueUnavailable, "the queue did not answer (\(String(describing: type(of: error))))")
        }
    }
}

/// What `offload serve --queue` runs: the queue, this host's pools serving it (its card pool
/// the `image` jobs, cards among them; its main pool every other kind), and the store the routes read.
struct QueueHosting {
    let store: QueueJobStore
    let services: [ServiceGroupConfiguration.ServiceConfiguration]

    init(url: String, schema: String?, pool: WorkerPool, cardPool: WorkerPool, outputs: String, drainTimeout: Duration,
         streamLimits: StreamLimits, logger: Logger) throws {
        var configuration = PostgresQueueConfiguration()
        if let schema { configuration.schema = schema }
        let queue: PostgresQueue
        do { queue = try PostgresQueue(url: url, configuration: configuration, logger: logger) } catch {
            throw fail("offload: \(error.message).")
        }
        func server(for pool: WorkerPool, kinds: [String]) -> QueueServer {
            var serverConfiguration = QueueServer.Configuration(drainTimeout: drainTimeout, logger: logger)
            serverConfiguration.kinds = kinds
            // Cards and data files go into the queue, where every host can serve them, and leave
            // nothing behind in this host's scratch folder.
            serverConfiguration.artifactFolder = outputs
            serverConfiguration.removesStoredFiles = true
            return QueueServer(queue: queue, pool: pool, configuration: serverConfiguration)
        }
        let jobs = server(for: pool, kinds: pool.registry.kinds.filter { $0 != "image" })
        let cards = server(for: cardPool, kinds: ["image"])
        store = QueueJobStore(queue: queue, pool: pool, cardPool: cardPool, streamLimits: streamLimits)
        services = [.init(service: queue), .init(service: pool), .init(service: cardPool), .init(service: jobs), .init(service: cards),
                    .init(service: store)]
    }
}
