public import Foundation

/// A schedule as its keeper knows it: the schedule, its next tick, and its last run.
public struct ScheduleState: Sendable {
    public var schedule: Schedule
    /// When its next tick is due (`nil`: its expression never comes due again).
    public var nextRun: Date?
    /// The tick of its last job, and that job.
    public var lastRun: Date?
    public var lastJob: JobID?

    public init(schedule: Schedule, nextRun: Date?, lastRun: Date? = nil, lastJob: JobID? = nil) {
        self.schedule = schedule
        self.nextRun = nextRun
        self.lastRun = lastRun
        self.lastJob = lastJob
    }
}
