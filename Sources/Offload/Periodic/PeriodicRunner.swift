import Foundation
import Synchronization

/// The schedules of a ``WorkerPool``: submits each tick's job to the pool while the pool runs.
/// A tick's job has the id `schedule:NAME@TIME`, so a tick is never submitted twice.
final class PeriodicRunner: Sendable {
    private let states = Mutex<[String: ScheduleState]>([:])
    /// When the runner next looks at its schedules (`nil`: it is looking, or not running).
    private let wakeAt = Mutex<Date?>(nil)
    private let changed = Wakeup()

    /// Wakes the runner for a schedule whose next tick is `next`, unless it wakes by then anyway:
    /// adding ten thousand schedules wakes it once, not ten thousand times.
    private func wake(for next: Date?) {
        guard let next, wakeAt.withLock({ $0.map { next < $0 } ?? true }) else { return }
        changed.signal()
    }

    /// Adds `schedule`, or replaces the one of its name (its next tick computed anew).
    /// - Throws: ``OffloadError/Code/resourceLimitExceeded`` for a new schedule past ``Schedule/maxSchedules``.
    func add(_ schedule: Schedule, now: Date = Date()) throws(OffloadError) {
        try states.withLock { states throws(OffloadError) in
            let previous = states[schedule.name]
            guard previous != nil || states.count < Schedule.maxSchedules else {
                throw OffloadError(.resourceLimitExceeded, "a pool keeps at most \(OffloadError.grouped(Schedule.maxSchedules)) schedules")
            }
            states[schedule.name] = ScheduleState(
                schedule: schedule, nextRun: schedule.tick(after: now), lastRun: previous?.lastRun, lastJob: previous?.lastJob)
        }
        wake(for: schedule.isPaused ? nil : schedule.tick(after: now))
    }

    /// Removes the schedule named `name`; whether there was one.
    func remove(_ name: String) -> Bool { states.withLock { $0.removeValue(forKey: name) != nil } }

    /// Pauses or resumes a schedule; whether there was one. A resumed schedule's next tick is
    /// the first after now (the ticks it was paused through are not run).
    func setPaused(_ paused: Bool, _ name: String, now: Date = Date()) -> Bool {
        let resumed = states.withLock { states -> (found: Bool, next: Date?) in
            guard var state = states[name] else { return (false, nil) }
            state.schedule.isPaused = paused
            if !paused { state.nextRun = state.schedule.tick(after: now) }
            states[name] = state
            return (true, paused ? nil : state.nextRun)
        }
        wake(for: resumed.next)
        return resumed.found
    }

    var all: [ScheduleState] { states.withLock { $0.values.sorted { $0.schedule.name < $1.schedule.name } } }

    /// Submits each due tick's job through `submit` until the task is cancelled.
    func run(submit: @escaping @Sendable (Job) async throws(OffloadError) -> Void) async {
        while !Task.isCancelled {
            let now = Date()
            var jobs: [Job] = []
            let earliest = states.withLock { states -> Date? in
                for (name, var state) in states {
                    guard let due = state.nextRun, due <= now else { continue }
                    let (ticks, next) = state.schedule.plan(due: due, now: now)
                    for tick in ticks { jobs.append(state.schedule.job(for: tick, id: JobID(state.schedule.key(of: tick)))) }
                    state.nextRun = next
                    if let last = ticks.last {
                        state.lastRun = last
                        state.lastJob = JobID(state.schedule.key(of: last))
                    }
                    states[name] = state
                }
                return states.values.compactMap { $0.schedule.isPaused ? nil : $0.nextRun }.min()
            }
            for job in jobs {
                // A tick already submitted (the id is taken) or refused by a pool shutting down
                // is not submitted again.
                try? await submit(job)
            }
            let wait = min(earliest.map { max($0.timeIntervalSince(Date()), 0) } ?? 60, 60)
            wakeAt.withLock { $0 = Date().addingTimeInterval(wait) }
            await changed.wait(timeout: .milliseconds(Int64(wait * 1_000) + 1))
            wakeAt.withLock { $0 = nil }
        }
    }
}
