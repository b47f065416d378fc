public import Foundation

/// A job submitted at each tick of a cron expression: a periodic job.
///
/// Each tick's job is the template with an id of its own and the tag `schedule:NAME`, so that
/// the store lists a schedule's runs by tag. A tick up to ``grace`` late (a host busy, a host
/// that died and was replaced) still runs, once; ticks later than that were missed: ``MissedTicks/skip``
/// drops them, ``MissedTicks/runOnce`` runs one job for them all.
///
/// ```swift
/// let nightly = try Schedule(
///     name: "nightly-report", cron: "0 3 * * *", timeZone: TimeZone(identifier: "Europe/Paris")!,
///     job: Job(kind: "analytics", payload: .json(["file": "sales.jsonl"])))
/// try pool.schedule(nightly)
/// ```
public struct Schedule: Sendable {
    /// What a schedule does with ticks more than ``grace`` late.
    public enum MissedTicks: String, Sendable, Hashable, CaseIterable {
        /// They do not run; the schedule waits for its next tick.
        case skip
        /// One job runs for all of them.
        case runOnce
    }

    /// 1 to ``maxNameBytes`` bytes of letters, digits and `- _ . :`.
    public var name: String
    public var cron: CronSchedule
    /// The zone whose wall clock the expression reads (default UTC).
    public var timeZone: TimeZone
    /// The job each tick submits (its id is not used: each tick's job has its own).
    public var job: Job
    public var missedTicks: MissedTicks
    /// Whether ticks are not run (a paused schedule's ticks are missed).
    public var isPaused: Bool

    /// - Throws: ``OffloadError/Code/invalidPayload`` for a name, expression or job that
    ///   ``validate()`` refuses.
    public init(
        name: String, cron: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!, job: Job,
        missedTicks: MissedTicks = .skip, isPaused: Bool = false
    ) throws(OffloadError) {
        self.name = name
        self.cron = try CronSchedule(cron)
        self.timeZone = timeZone
        self.job = job
        self.missedTicks = missedTicks
        self.isPaused = isPaused
        try validate()
    }

    /// How late a tick may run: later, it was missed.
    public static let grace: Duration = .seconds(60)
    /// The most schedules a pool or a queue keeps.
    public static let maxSchedules = 10_000
    /// The longest name, so that the tag `schedule:NAME` is a tag (``Job/maxTagBytes``).
    public static let maxNameBytes = Job.maxTagBytes - tagPrefix.utf8.count
    static let tagPrefix = "schedule:"

    /// Checks the name and the job.
    public func validate() throws(OffloadError) {
        guard !name.isEmpty, name.utf8.count <= Self.maxNameBytes,
            name.utf8.allSatisfy({
                $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
            })
        else {
            throw OffloadError(
                .invalidPayload,
                "name: \(OffloadError.quote(name)) is not a schedule's name (1 to \(Self.maxNameBytes) bytes of letters, digits and - _ . :)")
        }
        do { try job.validate() } catch { throw OffloadError(error.code, "job: \(error.message)") }
        do { try Job.validate(tags: tags) } catch {
            throw OffloadError(error.code, "job: \(error.message), with the schedule's own tag \(OffloadError.quote(tag))")
        }
    }

    /// The tag each tick's job carries.
    public var tag: String { Self.tagPrefix + name }

    private var tags: [String] { job.tags.contains(tag) ? job.tags : job.tags + [tag] }

    /// The key of one tick's job (`schedule:NAME@2026-12-07T03:00:00.000Z`): the same on every host,
    /// so that a tick is inserted once.
    public func key(of tick: Date) -> String { "\(tag)@\(ISO8601.format(tick.timeIntervalSince1970))" }

    /// The job of the tick at `tick`: the template, its id `id`, tagged with the schedule.
    public func job(for tick: Date, id: JobID) -> Job {
        var job = self.job
        job.id = id
        job.tags = tags
        job.runAt = nil
        return job
    }

    /// The first tick after `date`.
    public func tick(after date: Date) -> Date? { cron.next(after: date, in: timeZone) }

    /// What to run when the schedule is looked at, at `now`, its next tick due at `due`: each
    /// tick from `due` to `now` that is at most ``grace`` late (at most `limit` of them), one for
    /// the missed ones before when the schedule runs them once; and its next tick after `now`.
    public func plan(due: Date, now: Date, limit: Int = 100) -> (ticks: [Date], next: Date?) {
        guard due <= now else { return ([], due) }
        let onTime = now.addingTimeInterval(-Self.grace.seconds)
        var ticks: [Date] = []
        if due < onTime && missedTicks == .runOnce && !isPaused { ticks.append(due) }
        if !isPaused {
            var tick: Date? = due >= onTime ? due : self.tick(after: onTime.addingTimeInterval(-0.001))
            while let current = tick, current <= now, ticks.count < limit {
                ticks.append(current)
                tick = self.tick(after: current)
            }
        }
        return (ticks, self.tick(after: now))
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
