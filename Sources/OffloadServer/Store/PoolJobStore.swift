#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import Offload
public import ServiceLifecycle
import Synchronization

/// The jobs of a pool in this process, as `offload serve` shows them without a queue: every job
/// since the start up to `maxJobs` (the oldest finished ones go first), their events, and the
/// files they wrote, kept by SHA-256 up to `maxArtifactBytes`.
///
/// Run it as a service beside its pool: it follows the pool's events until the pool stops.
public final class PoolJobStore: JobStore, Service, Sendable {
    public let pool: WorkerPool
    /// Where the pool's kinds write their files (the image kind's output folder).
    public let outputFolder: String
    public let maxJobs: Int
    public let maxArtifactBytes: Int

    private let state = Mutex(State())
    private let events: AsyncStream<PoolEvent>
    private let artifacts: ArtifactFolder

    public var mode: String { "memory" }
    public var kinds: [String] { pool.registry.kinds }

    /// - Parameters:
    ///   - outputFolder: the folder the pool's kinds write to; the store moves each file a
    ///     completed job names there into `outputFolder/artifacts`, named by its SHA-256.
    public init(pool: WorkerPool, outputFolder: String, maxJobs: Int = 10_000, maxArtifactBytes: Int = 256 << 20) throws(OffloadError) {
        self.pool = pool
        self.outputFolder = outputFolder
        self.maxJobs = max(1, maxJobs)
        self.maxArtifactBytes = maxArtifactBytes
        self.artifacts = try ArtifactFolder(path: outputFolder + "/artifacts", maxBytes: maxArtifactBytes)
        // Subscribed now: no event of a job submitted before `run()` starts is missed.
        self.events = pool.events()
    }

    /// Follows the pool's events until the pool stops or the service group shuts down (the HTTP
    /// server, which reads the store, has stopped by then).
    public func run() async {
        for await event in events.cancelOnGracefulShutdown() { apply(event) }
        state.withLock { $0.finishWatchers() }
    }

    // MARK: - Jobs

    public func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID] {
        let now = Date()
        try state.withLock { state throws(OffloadError) in
            if let taken = jobs.first(where: { state.entries[$0.id] != nil }) {
                throw OffloadError(.duplicateJob, "a job with id '\(taken.id)' exists; ids are unique among the jobs this service keeps")
            }
            var seen = Set<JobID>()
            for job in jobs where !seen.insert(job.id).inserted {
                throw OffloadError(.duplicateJob, "the id '\(job.id)' is given twice")
            }
            for job in jobs { state.add(job, at: now) }
        }
        var queued: [JobID] = []
        for job in jobs {
            do throws(OffloadError) {
                try await pool.submit(job)
                queued.append(job.id)
            } catch {
                // The ones after it are not queued either: the caller learns of the first failure,
                // and of the jobs before it, which were.
                state.withLock { state in for job in jobs where !queued.contains(job.id) { state.remove(job.id) } }
                guard !queued.isEmpty else { throw error }
                throw OffloadError(error.code, "\(error.message); the \(queued.count) jobs before it were queued (\(queued.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        state.withLock { $0.evictIfFull(keeping: maxJobs) }
        return queued
    }

    public func job(_ id: JobID) async throws -> JobView? {
        state.withLock { $0.entries[id]?.view }
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        try state.withLock { state throws(OffloadError) in try state.page(query) }
    }

    public func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView? {
        guard let stream = watch(id) else { return nil }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await event in stream where event.kind == .ended { return } }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return state.withLock { $0.entries[id]?.view }
    }

    public func cancel(_ id: JobID) async throws -> CancelAnswer {
        guard let view = state.withLock({ $0.entries[id]?.view }) else { return .notFound }
        if view.state.isFinished { return .alreadyFinished }
        guard pool.cancel(id) else { return .alreadyFinished }
        return view.state == .running ? .requested : .cancelled
    }

    public func retry(_ id: JobID) async throws -> Bool {
        let old = state.withLock { state -> Entry? in
            guard let entry = state.entries[id], entry.view.state == .failed || entry.view.state == .cancelled else { return nil }
            state.remove(id)
            // The new attempt's events go on from the old ones' numbers: a stream resumed with
            // Last-Event-ID sees them.
            state.carriedSequences[id] = entry.nextEvent
            return entry
        }
        guard let old else { return false }
        var job = old.job
        job.createdAt = .now
        job.runAt = nil
        do { _ = try await submit([job]) } catch {
            // Not queued again: the job stays as it was.
            state.withLock { state in
                state.carriedSequences[id] = nil
                state.entries[id] = old
                state.order.append(id)
            }
            throw error
        }
        return true
    }

    public func events(of id: JobID) async throws -> AsyncStream<JobEventView>? {
        watch(id)
    }

    /// The job's events so far and to come; a reader that stops early is forgotten at once.
    private func watch(_ id: JobID) -> AsyncStream<JobEventView>? {
        guard let watched = state.withLock({ $0.watch(id) }) else { return nil }
        if let token = watched.token {
            // Only a reader that went away: the store finishes streams under its lock, and has then forgotten them.
            watched.continuation.onTermination = { [weak self] termination in
                if case .cancelled = termination { self?.state.withLock { $0.unwatch(id, token: token) } }
            }
        }
        return watched.stream
    }

    public func changes() -> AsyncStream<JobView> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobView.self, bufferingPolicy: .bufferingNewest(1_000))
        let token = state.withLock { $0.addChangeWatcher(continuation) }
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.state.withLock { _ = $0.changeWatchers.removeValue(forKey: token) } }
        }
        return stream
    }

    public func artifact(_ sha256: String) async throws -> StoredFile? {
        artifacts.read(sha256)
    }

    /// The card cache in front of this store keeps what `key` drew; the pool draws each time.
    /// The file is handed back and removed, not kept as an artifact: a card is served by its
    /// route, and hashing and keeping every drawing would cost more than drawing it.
    public func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String) {
        state.withLock { _ = $0.drawings.insert(job.id) }
        defer { state.withLock { _ = $0.drawings.remove(job.id) } }
        let id = try await submit([job])[0]
        let view: JobView?
        do { view = try await waitForEnd(id, timeout: timeout) } catch { view = nil }
        if view?.state.isFinished != true {
            _ = pool.cancel(id)
            if view != nil { throw OffloadError(.timedOut, "the card was not drawn within \(timeout)") }
        }
        let file = state.withLock { $0.drawn.removeValue(forKey: id) }
        guard let view, view.state.isFinished else { throw OffloadError(.shuttingDown, "the service stopped before the job ended") }
        guard view.state == .completed else {
            throw view.error ?? OffloadError(.cancelled, "the job was cancelled")
        }
        guard let file else { throw OffloadError(.handlerFailed, "the job wrote no file") }
        defer { unlink(file.path) }
        do {
            return (try RegularFile.read(file.path, maxBytes: ArtifactFolder.maxFileBytes), Artifact.contentType(of: file.name))
        } catch {
            throw OffloadError(.handlerFailed, "the drawn file could not be read: \(error)")
        }
    }

    public func overview() async throws -> Overview {
        let metrics = pool.metrics
        let now = ContinuousClock.now
        var overview = Overview()
        overview.queued = metrics.queued
        overview.running = metrics.running
        overview.delayed = metrics.delayed
        overview.submitted = metrics.submitted
        overview.completed = metrics.completed
        overview.failed = metrics.failed
        overview.cancelled = metrics.cancelled
        if metrics.completed + metrics.failed > 0 {
            (overview.waitP50, overview.waitP99, overview.runP50, overview.runP99) = (metrics.waitP50, metrics.waitP99, metrics.runP50, metrics.runP99)
        }
        overview.workers = state.withLock { $0.cpu.workers(metrics.perWorker, at: now) }
        return overview
    }

    public func isReady() async -> Bool {
        state.withLock { $0.poolReady }
    }

    // MARK: - Following the pool

    private func apply(_ event: PoolEvent) {
        if case .workerReady = event { state.withLock { $0.poolReady = true } }
        guard let info = event.jobInfo else { return }
        let now = Date()
        if let outcome = event.outcome {
            let shown = state.withLock({ $0.drawings.contains(info.job) }) ? handingBack(outcome) : shownResult(of: outcome)
            state.withLock { $0.end(info.job, outcome, result: shown.result, error: shown.error, at: now) }
            return
        }
        state.withLock { state in
            switch event {
            case .jobStarted:
                state.update(info.job, .started, at: now, attempt: info.attempt) {
                    $0.state = .running
                    $0.attempts = info.attempt
                    $0.progress = nil
                    if $0.startedAt == nil { $0.startedAt = now }
                }
            case .jobProgress(_, let fraction, let message):
                state.update(info.job, .progress, at: now, attempt: info.attempt, progress: fraction, message: message) { $0.progress = fraction }
            case .attemptFailed(_, let error):
                state.update(info.job, .retrying, at: now, attempt: info.attempt, error: error) {
                    $0.state = .scheduled
                    $0.error = error
                }
            case .jobPreempted:
                state.update(info.job, .preempted, at: now, attempt: info.attempt) { $0.state = .queued }
            default:
                break
            }
        }
    }

    /// The result of a drawing ``render(_:key:)`` waits for: its file set aside for it, the
    /// host's path left out of the result.
    private func handingBack(_ outcome: JobOutcome) -> (result: JSONValue?, error: OffloadError?) {
        guard let file = Artifact.file(of: outcome, under: outputFolder) else { return (try? outcome.result?.json(), outcome.error) }
        state.withLock { $0.drawn[outcome.id] = (file.path, file.name) }
        return (.object(file.members.filter { $0.key != "file" }), nil)
    }

    /// The result as the API shows it: a file under the output folder becomes an artifact
    /// (`artifact: {sha256, bytes, contentType}`, the host's path left out).
    private func shownResult(of outcome: JobOutcome) -> (result: JSONValue?, error: OffloadError?) {
        guard let file = Artifact.file(of: outcome, under: outputFolder) else {
            do { return (try outcome.result?.json(), outcome.error) } catch {
                return (nil, OffloadError(.handlerFailed, "the result could not be encoded as JSON: \(error)"))
            }
        }
        do throws(OffloadError) {
            let artifact = try artifacts.store(file.path, name: file.name)
            var members = file.members.filter { $0.key != "file" }
            members.append(("artifact", artifact.json))
            return (.object(members), nil)
        } catch {
            return (nil, error)
        }
    }
}
