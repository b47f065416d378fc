import Foundation
public import Offload
public import OffloadPostgres
public import OffloadServer
import ServiceLifecycle
import Synchronization

/// The jobs of a PostgreSQL queue, as `offload serve --queue URL` shows them: any host's, read
/// from the queue, in the same vocabulary and views as a pool's (``JobStore`` runs it).
public final class QueueBackend: JobBackend, Sendable {
    public let queue: PostgresQueue
    /// How often the change feed and a job's events are read.
    public let pollInterval: Duration

    private let hostsSeen = Mutex<([PostgresQueue.ServingHost], ContinuousClock.Instant)?>(nil)

    public var mode: String { "postgres" }

    public init(queue: PostgresQueue, pollInterval: Duration = .milliseconds(500)) {
        self.queue = queue
        self.pollInterval = pollInterval
    }

    /// Reads the change feed while someone follows it, until the service group shuts down.
    /// With no one following it keeps only the newest event's number (one index lookup), so that
    /// a stream opened now misses nothing recorded after it opened.
    public func run(changes feed: ChangeFeed) async throws {
        var last: Int64?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // A read the database does not answer is given up on at a stop.
                let queue = self.queue
                if let seen = last, feed.isFollowed {
                    let (jobs, newest) = try await cancelWhenGracefulShutdown { try await queue.changes(after: seen) }
                    last = newest
                    for job in jobs { feed.publish(Self.view(job)) }
                } else {
                    last = try await cancelWhenGracefulShutdown { try await queue.lastEventSeq() }
                }
            } catch {
                // The queue is away for now: the next round tries again.
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.pollInterval) }
        }
    }

    public func check(_ job: Job) throws(OffloadError) {
        try queue.check(PostgresQueue.Submission(job))
    }

    public func submit(_ jobs: [Job]) async throws(OffloadError) -> [JobID] {
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

    public func job(_ id: JobID) async throws -> JobView? {
        guard var view = try await answering({ try await self.queue.job(id) }).map(Self.view) else { return nil }
        if let links = try await answering({ try await self.queue.links(of: id, limit: JobView.maxDependents) }) {
            view.dependencies = links.dependencies.map { JobLink(id: $0.id, kind: $0.kind, state: $0.state) }
            view.dependents = links.dependents.map { JobLink(id: $0.id, kind: $0.kind, state: $0.state) }
        }
        return view
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        let found = try await answering {
            try await self.queue.jobs(
                state: query.state, kind: query.kind, tag: query.tag, text: query.text, limit: query.limit + 1, before: query.after)
        }
        let jobs = found.prefix(query.limit).map(Self.view)
        return JobPage(jobs: jobs, next: found.count > query.limit ? jobs.last?.id : nil)
    }

    public func waitForEnd(_ id: JobID, timeout: Duration) async throws -> JobView? {
        do { return Self.view(try await queue.finished(id, timeout: timeout)) } catch let error as OffloadError where error.code == .timedOut {
            return try await job(id)
        } catch let error as OffloadError where error.code == .invalidPayload {
            return nil
        }
    }

    public func cancel(_ id: JobID) async throws -> CancelAnswer {
        try await answering { try await self.queue.cancel(id) }
    }

    public func kindLimits() async throws -> [String: KindLimits] { try await queue.kindLimits() }

    public func setLimits(_ limits: KindLimits, for kind: String) async throws { try await queue.setLimits(limits, for: kind) }

    public func setPaused(_ paused: Bool, kind: String) async throws { try await queue.setPaused(paused, kind: kind) }

    public func schedules() async throws -> [ScheduleState] { try await queue.schedules() }

    public func addSchedule(_ schedule: Schedule) async throws { try await queue.addSchedule(schedule) }

    public func removeSchedule(_ name: String) async throws -> Bool { try await queue.removeSchedule(name) }

    public func setSchedulePaused(_ paused: Bool, name: String) async throws -> Bool {
        try await queue.setSchedulePaused(paused, name: name)
    }

    public func retry(_ id: JobID) async throws -> Bool {
        try await answering { try await self.queue.retry(id) }
    }

    /// The events recorded so far, then new ones as they are recorded, read every poll interval.
    /// An entry the vocabulary does not know ends the stream (`offload jobs show` names it).
    public func events(of id: JobID, limits: StreamLimits) async throws -> BoundedStream<JobEvent>? {
        guard try await job(id) != nil else { return nil }
        let stream = BoundedStream<JobEvent>(maxCount: limits.maxEvents, maxBytes: limits.maxBytes)
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
                var ended = false
                for (index, stored) in events.enumerated().dropFirst(sent) {
                    guard let event = try? stored.event(of: id, sequence: index + 1) else {
                        ended = true
                        break
                    }
                    stream.push(event, bytes: 200 + (event.step.message?.utf8.count ?? 0))
                    ended = ended || event.isFinal
                }
                sent = events.count
                if ended || job.state.isFinished { break }
                try? await Task.sleep(for: interval)
            }
            stream.finish()
        }
        stream.onTermination { reader.cancel() }
        return stream
    }

    public func artifact(_ sha256: String) async throws -> StoredFile? {
        guard let (artifact, data) = try await answering({ try await self.queue.artifact(sha256) }) else { return nil }
        return StoredFile(bytes: Array(data), contentType: artifact.contentType, sha256: artifact.sha256)
    }

    /// A card drawn before by any host (a completed job of the same key) is served from its
    /// artifact; otherwise the job goes to the queue under the key, so that hosts asked for the
    /// same card at once draw it once.
    public func render(_ job: Job, key: String, timeout: Duration) async throws(OffloadError) -> (bytes: [UInt8], contentType: String) {
        let uniqueKey = "offload-card:" + key
        let queue = self.queue
        if let done = try? await queue.completedJob(uniqueKey: uniqueKey), let file = try? await file(of: done) {
            return (file.bytes, file.contentType)
        }
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

    public func counts() async throws -> Overview {
        let status = try await answering { try await self.queue.status() }
        var overview = Overview()
        for (state, byPriority) in status.counts {
            let total = byPriority.values.reduce(0, +)
            overview.submitted += total
            switch state {
            case .queued: overview.queued.merge(byPriority, uniquingKeysWith: +)
            // Not ready yet: for a time, or for the jobs they depend on.
            case .scheduled, .waiting: overview.delayed += total
            case .running: overview.running += total
            case .completed: overview.completed += total
            case .failed: overview.failed += total
            case .cancelled: overview.cancelled += total
            }
        }
        return overview
    }

    public func isReady() async -> Bool {
        (try? await queue.schemaVersion()) != nil
    }

    // MARK: - As the API shows them

    static func view(_ job: StoredJob) -> JobView {
        var view = JobView(
            id: job.id, kind: job.kind, priority: job.priority, state: job.state, attempts: job.attempt,
            progress: job.state == .completed ? 1 : job.progress, createdAt: job.createdAt, startedAt: job.startedAt,
            finishedAt: job.finishedAt, payload: job.payload, result: job.result, error: job.error)
        view.tags = job.tags
        view.dependsOn = job.dependsOn
        view.onDependencyFailure = job.onDependencyFailure
        return view
    }

    /// The body's answer, or ``OffloadError/Code/queueUnavailable`` when the queue did not give one.
    private func answering<T>(_ body: () async throws -> T) async throws(OffloadError) -> T {
        do { return try await body() } catch let error as OffloadError { throw error } catch {
            throw OffloadError(.queueUnavailable, "the queue did not answer (\(String(describing: type(of: error))))")
        }
    }
}
