import Foundation
import Offload

extension PoolJobStore {
    /// One job the store keeps: what was submitted (for a retry), how it looks now, its events,
    /// and the streams following it.
    struct Entry {
        var job: Job
        var view: JobView
        var sequence: UInt64
        var events: [JobEventView] = []
        var nextEvent = 1
        var watchers: [UInt64: AsyncStream<JobEventView>.Continuation] = [:]
    }

    /// The most events one job keeps; beyond it, progress events replace the last one.
    static let maxEventsPerJob = 200

    struct State {
        var entries: [JobID: Entry] = [:]
        /// Ids in the order they were submitted (oldest first).
        var order: [JobID] = []
        var nextSequence: UInt64 = 0
        var nextWatcher: UInt64 = 0
        var changeWatchers: [UInt64: AsyncStream<JobView>.Continuation] = [:]
        var cpu = WorkerCPU()
        var poolReady = false
        /// The jobs ``PoolJobStore/render(_:key:)`` waits for, and the files they wrote.
        var drawings: Set<JobID> = []
        var drawn: [JobID: (path: String, name: String)] = [:]
        /// The next event number of jobs being retried (their events number on).
        var carriedSequences: [JobID: Int] = [:]

        mutating func add(_ job: Job, at now: Date) {
            nextSequence += 1
            let view = JobView(id: job.id, kind: job.kind, priority: job.priority, state: job.runAt.map { $0 > .now } == true ? .scheduled : .queued,
                               createdAt: now, payload: (try? job.payload.json()) ?? .null)
            var entry = Entry(job: job, view: view, sequence: nextSequence)
            let first = carriedSequences.removeValue(forKey: job.id) ?? 1
            entry.events.append(JobEventView(sequence: first, kind: .queued, at: now, state: view.state))
            entry.nextEvent = first + 1
            entries[job.id] = entry
            order.append(job.id)
            publish(view)
        }

        mutating func remove(_ id: JobID) {
            guard let entry = entries.removeValue(forKey: id) else { return }
            for watcher in entry.watchers.values { watcher.finish() }
            if let index = order.lastIndex(of: id) { order.remove(at: index) }
        }

        /// Drops the oldest finished jobs while more than `limit` (and a tenth) are kept.
        mutating func evictIfFull(keeping limit: Int) {
            guard entries.count > limit + limit / 10 else { return }
            var excess = entries.count - limit
            order.removeAll { id in
                guard excess > 0, let entry = entries[id], entry.view.state.isFinished else { return false }
                entries[id] = nil
                excess -= 1
                return true
            }
        }

        mutating func update(_ id: JobID, _ kind: JobEventView.Kind, at now: Date, attempt: Int? = nil, progress: Double? = nil,
                             message: String? = nil, error: OffloadError? = nil, _ change: (inout JobView) -> Void) {
            guard var entry = entries[id] else { return }
            change(&entry.view)
            let event = JobEventView(sequence: entry.nextEvent, kind: kind, at: now, attempt: attempt, progress: progress,
                                     message: message, state: entry.view.state, error: error)
            entry.nextEvent += 1
            if entry.events.count >= PoolJobStore.maxEventsPerJob, kind == .progress {
                entry.events[entry.events.count - 1] = event
            } else {
                entry.events.append(event)
            }
            for watcher in entry.watchers.values { watcher.yield(event) }
            if kind == .ended {
                for watcher in entry.watchers.values { watcher.finish() }
                entry.watchers = [:]
            }
            let view = entry.view
            entries[id] = entry
            // Progress is shown by the job's own stream; the dashboard's learns of state changes.
            if kind != .progress { publish(view) }
        }

        mutating func end(_ id: JobID, _ outcome: JobOutcome, result: JSONValue?, error: OffloadError?, at now: Date) {
            update(id, .ended, at: now, attempt: outcome.attempts, error: error) { view in
                view.state = switch outcome.status {
                case .completed: error == nil ? .completed : .failed
                case .failed: .failed
                case .cancelled: .cancelled
                }
                view.attempts = outcome.attempts
                view.result = error == nil ? result : nil
                view.error = error
                view.finishedAt = now
                if view.state == .completed { view.progress = 1 }
            }
        }

        /// A stream of the job's events so far, then each new one until it ends.
        /// `token` names the watcher for ``unwatch(_:token:)`` (nil when the job has ended: the
        /// stream is complete already).
        mutating func watch(_ id: JobID) -> (stream: AsyncStream<JobEventView>, continuation: AsyncStream<JobEventView>.Continuation, token: UInt64?)? {
            guard var entry = entries[id] else { return nil }
            let (stream, continuation) = AsyncStream.makeStream(of: JobEventView.self)
            for event in entry.events { continuation.yield(event) }
            if entry.view.state.isFinished {
                continuation.finish()
                return (stream, continuation, nil)
            }
            nextWatcher += 1
            entry.watchers[nextWatcher] = continuation
            entries[id] = entry
            return (stream, continuation, nextWatcher)
        }

        /// Forgets a watcher whose reader went away before the job ended.
        mutating func unwatch(_ id: JobID, token: UInt64) {
            entries[id]?.watchers[token] = nil
        }

        mutating func addChangeWatcher(_ continuation: AsyncStream<JobView>.Continuation) -> UInt64 {
            nextWatcher += 1
            changeWatchers[nextWatcher] = continuation
            return nextWatcher
        }

        func publish(_ view: JobView) {
            for watcher in changeWatchers.values { watcher.yield(view) }
        }

        mutating func finishWatchers() {
            for id in entries.keys {
                for watcher in entries[id]!.watchers.values { watcher.finish() }
                entries[id]!.watchers = [:]
            }
            for watcher in changeWatchers.values { watcher.finish() }
            changeWatchers = [:]
        }

        /// Newest first, after the cursor's job.
        func page(_ query: JobQuery) throws(OffloadError) -> JobPage {
            var index = order.count - 1
            if let after = query.after {
                guard let position = order.lastIndex(of: after) else {
                    throw OffloadError(.invalidPayload, "after: no job \(OffloadError.quote(after.rawValue)) is kept (it may have been dropped: the service keeps the newest)")
                }
                index = position - 1
            }
            var jobs: [JobView] = []
            while index >= 0 {
                if let view = entries[order[index]]?.view,
                   query.state.map({ $0 == view.state }) ?? true, query.kind.map({ $0 == view.kind }) ?? true {
                    if jobs.count == query.limit { return JobPage(jobs: jobs, next: jobs.last?.id) }
                    jobs.append(view)
                }
                index -= 1
            }
            return JobPage(jobs: jobs, next: nil)
        }
    }
}
