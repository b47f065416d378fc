/// How many jobs of one kind may run, and how often they may start; and whether the kind is
/// paused. A job held back by its kind's limits waits in the queue: it is never failed for it.
///
/// A ``WorkerPool`` applies them to its own workers (``PoolConfiguration/kindLimits``,
/// ``WorkerPool/setLimits(_:for:)``); on a durable queue the limits set with the queue's
/// `setLimits(_:for:)` hold across every host, in its claim.
///
/// ```swift
/// var configuration = PoolConfiguration()
/// configuration.kindLimits["og-image"] = KindLimits(maxConcurrent: 2, rate: .init(jobs: 50, per: .seconds(1)))
/// ```
public struct KindLimits: Sendable, Hashable {
    /// Jobs of the kind running at once, at most; `nil`: no limit but the workers.
    public var maxConcurrent: Int?
    /// Jobs of the kind that may start in an interval, at most; `nil`: no limit.
    public var rate: Rate?
    /// Whether the kind's jobs wait instead of starting (those running go on).
    public var isPaused: Bool

    public init(maxConcurrent: Int? = nil, rate: Rate? = nil, isPaused: Bool = false) {
        self.maxConcurrent = maxConcurrent
        self.rate = rate
        self.isPaused = isPaused
    }

    /// `jobs` starts in every `per`, evenly spread: one every `per / jobs`. A start that comes
    /// late (a host busy, a claim answered late) does not put the next ones back: up to
    /// ``slack`` of lateness is caught up, so that the rate holds on average, and any one
    /// interval holds at most a tenth more than `jobs`.
    public struct Rate: Sendable, Hashable {
        public var jobs: Int
        public var per: Duration

        public init(jobs: Int, per: Duration) {
            self.jobs = jobs
            self.per = per
        }

        /// The time between two starts.
        public var spacing: Duration { per / jobs }

        /// The lateness caught up: a tenth of the interval, or half a spacing when that is more.
        public var slack: Duration { max(spacing / 2, per / 10) }
    }

    /// Whether the limits hold nothing back: a kind with none is not tracked.
    public var isUnlimited: Bool { maxConcurrent == nil && rate == nil && !isPaused }

    /// The most a limit may say: a million jobs, an interval of a day.
    public static let maxJobs = 1_000_000
    public static let maxInterval: Duration = .seconds(86_400)

    /// Checks the limits are ones a queue can keep.
    /// - Throws: ``OffloadError/Code/invalidConfiguration`` naming the limit that is not.
    public func validate() throws(OffloadError) {
        if let maxConcurrent, !(1...Self.maxJobs).contains(maxConcurrent) {
            throw OffloadError(.invalidConfiguration, "maxConcurrent must be 1 to \(Self.maxJobs) (found \(maxConcurrent))")
        }
        if let rate {
            guard (1...Self.maxJobs).contains(rate.jobs) else {
                throw OffloadError(.invalidConfiguration, "a rate's jobs must be 1 to \(Self.maxJobs) (found \(rate.jobs))")
            }
            guard rate.per >= .milliseconds(1), rate.per <= Self.maxInterval else {
                throw OffloadError(.invalidConfiguration, "a rate's interval must be 1 ms to 1 day (found \(rate.per))")
            }
        }
    }
}
