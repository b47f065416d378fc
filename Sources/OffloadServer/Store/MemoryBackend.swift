#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import Offload
import ServiceLifecycle
import Synchronization

/// The jobs of a pool in this process, as `offload serve` shows them without a queue: every job
/// the pool runs, whoever submitted it, bounded in bytes (``maxBytes``: payloads, results and
/// events; the oldest finished jobs go first, and a submission that unfinished jobs would take
/// past it is refused `queueFull`), their events, and the files they wrote, kept by SHA-256 up
/// to ``maxArtifactBytes``.
///
/// ``JobStore`` runs it: it follows the pool's events until the pool stops.
///
/// Lock: `state` guards the records and the streams' registrations; no other lock is taken
/// while it is held (a stream's own lock and the change feed's are leaves). The lock of the
/// jobs kept from their `queued` event is a leaf, taken under the pool's by its observer.
public final class MemoryBackend: JobBackend, Sendable {
    public let pool: WorkerPool
    /// The pool cards are drawn in (``render(_:key:timeout:)``): the service's own share of
    /// workers, so that cards never wait behind long jobs; `nil` draws them in ``pool``.
    public let cardPool: WorkerPool?
    /// Where the pools' kinds write their files (the image kind's output folder).
    public let outputFolder: String
    /// Where the files jobs name may be: the store's folder and those the kinds write to.
    private let fileFolders: [String]
    /// The bytes of jobs kept: payloads, results and events.
    public let maxBytes: Int
    /// The jobs kept at most, however small.
    public let maxJobs: Int
    public let maxArtifactBytes: Int

    private let state: Mutex<State>
    /// The pool's job ends this store has applied: the pool's ``WorkerPool/endedCount`` minus
    /// this is how far behind it follows (each end waiting holds its result).
    private let appliedEnds = Atomic<Int>(0)

    /// Ends the store may be behind the pool before it takes no more jobs: when the machine
    /// cannot keep up, submitters are told so (503) instead of results piling up unseen.
    static let maxLag = 500
    private let events: AsyncStream<PoolEvent>
    /// Each job the pool queued, as it was submitted, until the store applies its `queued` event:
    /// a program's own quick job may have ended, and left the pool, by the time the store reads
    /// that event.
    private let queuedJobs = SubmittedJobs()
    private let queuedObservation: Int
    private let artifacts: ArtifactFolder
    private let memory = FreedMemory()

    private struct State {
        var records: JobRecords
        var nextToken: UInt64 = 0
        var poolReady = false
        /// Cards being drawn: the service's own jobs, not listed (their result is the image).
        var cards: Set<JobID> = []
        /// Where changes go while the backend runs.
        var changes: ChangeFeed?

        mutating func token() -> UInt64 {
            nextToken += 1
            return nextToken
        }

        /// Tells the dashboard's streams of a change (the job without its payload and result).
        func publish(_ view: JobView) { changes?.publish(view) }
    }

    public var mode: String { "memory" }

    /// - Parameters:
    ///   - outputFolder: the store's folder. The store moves each file a completed job names
    ///     under it, or under a folder the pools' kinds write to (``HandlerRegistry/outputDirectories``),
    ///     into `outputFolder/artifacts`, named by its SHA-256. Made when missing.
    ///   - cardPool: the pool cards are drawn in (default: `pool`).
    ///   - maxBytes: the bytes of jobs kept (default 256 MiB).
    ///   - maxJobs: the jobs kept at most (default 100,000).
    /// - Throws: ``OffloadError/Code/invalidConfiguration`` when the artifacts folder cannot be made.
    public init(
        pool: WorkerPool, outputFolder: String, cardPool: WorkerPool? = nil, maxBytes: Int = 256 << 20, maxJobs: Int = 100_000,
        maxArtifactBytes: Int = 256 << 20
    ) throws(OffloadError) {
        self.pool = pool
        self.cardPool = cardPool
        self.outputFolder = outputFolder
        fileFolders = [outputFolder] + (pool.registry.outputDirectories + (cardPool?.registry.outputDirectories ?? [])).filter { $0 != outputFolder }
        self.maxBytes = maxBytes
        self.maxJobs = maxJobs
        self.maxArtifactBytes = maxArtifactBytes
        state = Mutex(State(records: JobRecords(maxBytes: maxBytes, maxJobs: maxJobs)))
        self.artifacts = try ArtifactFolder(path: outputFolder + "/artifacts", maxBytes: maxArtifactBytes)
        // Subscribed now: no event of a job submitted before `run()` starts is missed.
        self.events = pool.events()
        // Observers are called before streams are fed, under the pool's lock: reading a job the
        // pool holds takes only its inbox's lock, never taken the other way round.
        queuedObservation = pool.observeEvents { [queuedJobs, weak pool] event in
            switch event {
            case .jobWaiting(let info), .jobQueued(let info):
                if let job = pool?.job(info.job) { queuedJobs.keep(job) }
            default: break
            }
        }
    }

    deinit { pool.stopObserving(queuedObservation) }

    /// Follows the pool's events until the pool stops or the service group shuts down (the HTTP
    /// server, which reads the store, has stopped by then).
    public func run(changes: ChangeFeed) async throws {
        state.withLock { $0.changes = changes }
        // On a thread of its own: a busy service (requests parsed on every core) must not leave
        // the pool's ends, and the results they carry, waiting unapplied.
        let thread = WorkerThreadExecutor()
        thread.start(name: "offload-store")
        defer { thread.stop() }
        await withTaskExecutorPreference(thread) {
            for await event in events.cancelOnGracefulShutdown() {
                apply(event)
                if event.outcome != nil { appliedEnds.add(1, ordering: .relaxed) }
            }
        }
        state.withLock { state in
            state.records.finishWatchers()
            state.changes = nil
        }
    }

    // MARK: - Jobs

    public func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID] {
        // Each job after those of the batch it depends on; the ids answer in the order given.
        let order = try DependencyOrder.sorted(jobs)
        // All are queued or the call throws, naming those that were.
        try await submitInOrder(order.map { jobs[$0] })
        return jobs.map(\.id)
    }

    private func submitInOrder(_ jobs: [Job]) async throws(OffloadError) {
        let now = Timestamp.now
        let clock = ContinuousClock.now
        // Each payload held once, as its JSON text: the store's record and the pool share the bytes.
        var held: [Job] = []
        var texts: [[UInt8]] = []
        for var job in jobs {
            let text = JobRecords.compacted(try job.payload.jsonBytes())
            job.payload = .encodedJSON(text)
            held.append(job)
            texts.append(text)
        }
        let lag = pool.endedCount - appliedEnds.load(ordering: .relaxed)
        if lag > Self.maxLag {
            throw OffloadError(.queueFull, "the service is \(lag) job ends behind its workers; retry in a moment")
        }
        try state.withLock { state throws(OffloadError) in
            try state.records.admit(held, sizes: texts.map(\.count))
            for (job, text) in zip(held, texts) {
                let runAt = job.runAt.flatMap { $0 > clock ? now.adding($0 - clock) : nil }
                state.publish(state.records.add(job, payload: text, at: now, runAt: runAt))
            }
        }
        var queued: [JobID] = []
        for job in held {
            do throws(OffloadError) {
                try await pool.submit(job)
                queued.append(job.id)
            } catch {
                // The ones after it are not queued either: the caller learns of the first failure,
                // and of the jobs before it, which were.
                state.withLock { state in for job in held where !queued.contains(job.id) { state.records.remove(job.id) } }
                guard !queued.isEmpty else { throw error }
                throw OffloadError(
                    error.code, "\(error.message); the \(queued.count) jobs before it were queued (\(queued.map(\.rawValue).joined(separator: ", ")))"
                )
            }
        }
    }

    public func job(_ id: JobID) async throws -> JobView? {
        state.withLock { $0.records.linkedView(id) }
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        try state.withLock { state throws(OffloadError) in try state.records.page(query) }
    }

    /// Waits for the job's end; the job is kept (pinned) while this waits, however full the store.
    public func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView? {
        guard state.withLock({ $0.records.pin(id) }) else { return nil }
        defer { state.withLock { $0.records.unpin(id) } }
        if let stream = watch(id) {
            defer { stream.end() }
            let deadline = ContinuousClock.now + timeout
            waiting: while ContinuousClock.now < deadline {
                switch await stream.next(timeout: deadline - .now) {
                case .element(let event) where event.isFinal: break waiting
                case .element: continue
                case .finished, .overflowed, .timedOut: break waiting
                }
            }
        }
        return state.withLock { $0.records.view(id) }
    }

    public func cancel(_ id: JobID) async throws -> CancelAnswer {
        guard let view = state.withLock({ $0.records.view(id, full: false) }) else { return .notFound }
        if view.state.isFinished { return .alreadyFinished }
        if view.state == .running {
            // The request is a step of its own, before the stop the pool asks of the worker.
            state.withLock { _ = $0.records.record(JobEvent(job: id, at: .now, step: .cancelRequested, attempt: view.attempts)) }
        }
        guard pool.cancel(id) else { return .alreadyFinished }
        return view.state == .running ? .requested : .cancelled
    }

    public func kindLimits() async throws -> [String: KindLimits] { pool.kindLimits }

    public func setLimits(_ limits: KindLimits, for kind: String) async throws { try pool.setLimits(limits, for: kind) }

    public func setPaused(_ paused: Bool, kind: String) async throws {
        if paused { pool.pause(kind: kind) } else { pool.resume(kind: kind) }
    }

    public func schedules() async throws -> [ScheduleState] { pool.schedules }

    public func addSchedule(_ schedule: Schedule) async throws { try pool.schedule(schedule) }

    public func removeSchedule(_ name: String) async throws -> Bool { pool.unschedule(name) }

    public func setSchedulePaused(_ paused: Bool, name: String) async throws -> Bool { pool.pauseSchedule(name, paused) }

    public func retry(_ id: JobID) async throws -> Bool {
        let old = state.withLock { state -> JobRecords.Entry? in
            guard let entry = state.records.entries[id], entry.view.state == .failed || entry.view.state == .cancelled else { return nil }
            state.records.remove(id)
            // The new attempt's events go on from the old ones' numbers: a stream resumed with
            // Last-Event-ID sees them.
            state.records.carriedSequences[id] = entry.nextEvent
            return entry
        }
        guard let old else { return false }
        var job = old.job
        job.createdAt = .now
        job.runAt = nil
        // Its attempts go on from the ones it made, as on the durable queue.
        job.priorAttempts = old.view.attempts
        // Run again now, as on the durable queue: it waits for no dependency a second time.
        job.dependsOn = []
        do { _ = try await submit([job]) } catch {
            // Not queued again: the job stays as it was.
            state.withLock { state in
                state.records.carriedSequences[id] = nil
                state.records.restore(old)
            }
            throw error
        }
        return true
    }

    public func events(of id: JobID, limits: StreamLimits) async throws -> BoundedStream<JobEvent>? {
        watch(id, limits: limits)
    }

    /// The job's events so far and to come; a reader that stops early is forgotten at once.
    private func watch(_ id: JobID, limits: StreamLimits = StreamLimits()) -> BoundedStream<JobEvent>? {
        guard
            let (stream, watching, token) = state.withLock({ state -> (BoundedStream<JobEvent>, Bool, UInt64)? in
                let token = state.token()
                return state.records.watch(id, maxCount: limits.maxEvents, maxBytes: limits.maxBytes, token: token).map {
                    ($0.stream, $0.watching, token)
                }
            })
        else { return nil }
        if watching {
            stream.onTermination { [weak self] in self?.state.withLock { $0.records.unwatch(id, token: token) } }
        }
        return stream
    }

    public func artifact(_ sha256: String) async throws -> StoredFile? {
        artifacts.read(sha256)
    }

    /// Draws the card in ``cardPool`` (the card cache in front of this store keeps what `key`
    /// drew). A card is not a job of the store: its file is handed back and removed, not kept
    /// as an artifact.
    public func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String) {
        state.withLock { _ = $0.cards.insert(job.id) }
        defer { state.withLock { _ = $0.cards.remove(job.id) } }
        return try await CardDrawing.draw(job, in: cardPool ?? pool, timeout: timeout)
    }

    public func counts() async throws -> Overview {
        let metrics = pool.metrics
        var overview = Overview()
        overview.queued = metrics.queued
        overview.running = metrics.running
        overview.delayed = metrics.delayed
        overview.submitted = metrics.submitted
        overview.completed = metrics.completed
        overview.failed = metrics.failed
        overview.cancelled = metrics.cancelled
        return overview
    }

    /// What the store keeps now: jobs, their bytes, and the bytes it cannot drop (unfinished or waited for).
    public var kept: (jobs: Int, bytes: Int, heldBytes: Int) {
        state.withLock { ($0.records.count, $0.records.bytes, $0.records.heldBytes) }
    }

    public func isReady() async -> Bool {
        state.withLock { $0.poolReady }
    }

    // MARK: - Following the pool

    private func apply(_ event: PoolEvent) {
        if case .workerReady = event { state.withLock { $0.poolReady = true } }
        // Every job of the pool, whoever submitted it: one the store has not seen is added when
        // it is queued (a program's own `pool.submit`).
        guard var step = event.jobEvent(since: pool.madeAt) else { return }
        switch event {
        case .jobWaiting, .jobQueued:
            let submitted = queuedJobs.take(step.job)
            let known = state.withLock { state -> Bool in
                guard let entry = state.records.entries[step.job] else { return false }
                // Its submission is its first step; leaving `waiting` is one of its own.
                if entry.view.state == .waiting, step.step != .waiting, let view = state.records.record(step) { state.publish(view) }
                return true
            }
            // A program's own `pool.submit`: the store adopts it (its payload encoded outside the lock).
            guard !known, let submitted, let (job, payload) = Self.adoptable(submitted) else { return }
            state.withLock { state in
                guard !state.cards.contains(job.id), (try? state.records.admit([job], sizes: [payload.count])) != nil else { return }
                state.publish(state.records.add(job, payload: payload, at: step.at, runAt: step.step.time))
            }
            return
        default: break
        }
        guard state.withLock({ $0.records.entries[step.job] != nil }) else { return }
        if let outcome = event.outcome {
            let shown = shownResult(of: outcome)
            // A completed job whose file could not be kept fails with why.
            if let error = shown.error, case .completed = step.step { step.step = .failed(error) }
            let dropped = state.withLock { state -> Int in
                if let view = state.records.end(step, result: shown.result) { state.publish(view) }
                return state.records.takeDroppedBytes()
            }
            memory.released(dropped)
            return
        }
        state.withLock { state in
            let view = state.records.record(step)
            // Progress is shown by the job's own stream; the dashboard's learns of state changes.
            if let view, !(step.step.isProgress) { state.publish(view) }
        }
    }

    /// A job the pool queued that this store did not submit (a program's own `pool.submit`),
    /// with its payload's text.
    private static func adoptable(_ job: Job) -> (job: Job, payload: [UInt8])? {
        guard let text = try? job.payload.jsonBytes() else { return nil }
        var held = job
        let compact = JobRecords.compacted(text)
        held.payload = .encodedJSON(compact)
        return (held, compact)
    }

    /// The result as the API shows it, as JSON text: a file under the output folder becomes an
    /// artifact (`artifact: {sha256, bytes, contentType}`, the host's path left out).
    private func shownResult(of outcome: JobOutcome) -> (result: [UInt8]?, error: OffloadError?) {
        guard let file = fileFolders.lazy.compactMap({ Artifact.file(of: outcome, under: $0) }).first else {
            do throws(OffloadError) { return ((try outcome.result?.jsonBytes()).map(JobRecords.compacted), outcome.error) } catch {
                return (nil, OffloadError(.handlerFailed, "the result could not be encoded as JSON: \(error.message)"))
            }
        }
        do throws(OffloadError) {
            let artifact = try artifacts.store(file.path, name: file.name)
            var members = file.members.filter { $0.key != "file" }
            members.append(("artifact", artifact.json))
            var text: [UInt8] = []
            JSONWriter.write(.object(members), into: &text)
            return (text, nil)
        } catch {
            return (nil, error)
        }
    }
}

/// The bounds of one event stream: a reader further behind than either is sent a last event
/// saying so, and the stream ends (the dashboard then reconnects and reads the overview again).
public struct StreamLimits: Sendable, Hashable {
    /// Events held for a reader at most.
    public var maxEvents: Int
    /// Bytes of events held for a reader at most.
    public var maxBytes: Int

    public init(maxEvents: Int = 1_000, maxBytes: Int = 1 << 20) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
    }
}

/// Jobs as they were submitted, kept from their `queued` event until it is applied.
private final class SubmittedJobs: Sendable {
    private let jobs = Mutex<[JobID: Job]>([:])

    func keep(_ job: Job) { jobs.withLock { $0[job.id] = job } }

    func take(_ id: JobID) -> Job? { jobs.withLock { $0.removeValue(forKey: id) } }
}
