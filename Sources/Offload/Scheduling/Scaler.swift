/// When the pool grows and shrinks.
public struct ScalingConfiguration: Sendable, Hashable {
    /// Workers kept even when idle.
    public var minWorkers: Int
    /// Workers never exceeded.
    public var maxWorkers: Int
    /// Busy workers ÷ workers at or above which, with jobs waiting, the pool grows.
    public var scaleUpUtilisation: Double
    /// Workers added in one check, at most.
    public var maxScaleUpPerCycle: Int
    /// Workers removed in one check, at most.
    public var maxScaleDownPerCycle: Int
    /// How long a worker above the minimum may stay idle before it ends.
    public var idleTimeout: Duration
    /// How often the pool checks whether to grow or shrink.
    public var checkInterval: Duration

    /// - Parameters:
    ///   - minWorkers: workers kept when idle (default 1).
    ///   - maxWorkers: the upper bound (default: the number of CPUs, at least `minWorkers`).
    ///   - scaleUpUtilisation: the busy share that, with jobs waiting, adds workers (default 0.8).
    ///   - maxScaleUpPerCycle: workers added per check (default 2).
    ///   - maxScaleDownPerCycle: workers removed per check (default 1).
    ///   - idleTimeout: idle time after which a worker above the minimum ends (default 30 s).
    ///   - checkInterval: time between checks (default 100 ms).
    public init(
        minWorkers: Int = 1,
        maxWorkers: Int? = nil,
        scaleUpUtilisation: Double = 0.8,
        maxScaleUpPerCycle: Int = 2,
        maxScaleDownPerCycle: Int = 1,
        idleTimeout: Duration = .seconds(30),
        checkInterval: Duration = .milliseconds(100)
    ) {
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers ?? max(minWorkers, SystemInfo.cpuCount)
        self.scaleUpUtilisation = scaleUpUtilisation
        self.maxScaleUpPerCycle = maxScaleUpPerCycle
        self.maxScaleDownPerCycle = maxScaleDownPerCycle
        self.idleTimeout = idleTimeout
        self.checkInterval = checkInterval
    }

    /// A fixed number of workers.
    public static func fixed(_ workers: Int) -> ScalingConfiguration {
        ScalingConfiguration(minWorkers: workers, maxWorkers: workers)
    }

    func validate() throws(OffloadError) {
        if minWorkers < 0 { throw OffloadError(.invalidConfiguration, "minWorkers must not be negative") }
        if maxWorkers < 1 { throw OffloadError(.invalidConfiguration, "maxWorkers must be at least 1") }
        if minWorkers > maxWorkers { throw OffloadError(.invalidConfiguration, "minWorkers (\(minWorkers)) exceeds maxWorkers (\(maxWorkers))") }
        if maxScaleUpPerCycle < 1 { throw OffloadError(.invalidConfiguration, "maxScaleUpPerCycle must be at least 1") }
        if idleTimeout < .zero { throw OffloadError(.invalidConfiguration, "idleTimeout must not be negative") }
        if checkInterval <= .zero { throw OffloadError(.invalidConfiguration, "checkInterval must be positive") }
    }
}

/// Decides, from the pool's load at one moment, how many workers to add and which idle ones to end.
///
/// A pure value: the pool gives it the time and the load, so tests drive it with any clock.
package struct Scaler: Sendable {
    /// What the scaler sees of one worker.
    package struct WorkerLoad: Sendable {
        package var id: WorkerID
        package var isBusy: Bool
        /// When the worker last became idle (or started).
        package var idleSince: ContinuousClock.Instant
        /// Whether removing it would leave a capability with no worker.
        package var isLastOfItsProfile: Bool

        package init(id: WorkerID, isBusy: Bool, idleSince: ContinuousClock.Instant, isLastOfItsProfile: Bool = false) {
            self.id = id
            self.isBusy = isBusy
            self.idleSince = idleSince
            self.isLastOfItsProfile = isLastOfItsProfile
        }
    }

    /// Workers to start and workers to end.
    package struct Decision: Sendable, Equatable {
        package var add: Int
        package var retire: [WorkerID]
    }

    package var configuration: ScalingConfiguration

    package init(configuration: ScalingConfiguration) { self.configuration = configuration }

    /// Scale up when the ready queue is longer than twice the workers, or when the busy share
    /// reaches the threshold while jobs wait (a busy pool with an empty queue does not grow:
    /// a new worker would only idle); never above the maximum, at most `maxScaleUpPerCycle` at once.
    /// Scale down by ending workers idle for `idleTimeout`, longest idle first, never below the
    /// minimum and never the last worker of a capability profile.
    package func decide(now: ContinuousClock.Instant, workers: [WorkerLoad], starting: Int, readyJobs: Int) -> Decision {
        let total = workers.count + starting
        if total < configuration.minWorkers {
            return Decision(add: min(configuration.minWorkers - total, configuration.maxWorkers - total), retire: [])
        }
        let busy = workers.filter(\.isBusy).count
        let utilisation = workers.isEmpty ? 1.0 : Double(busy) / Double(workers.count)
        let queuePressure = readyJobs > 2 * total
        let busyPressure = readyJobs > 0 && utilisation >= configuration.scaleUpUtilisation
        if (queuePressure || busyPressure) && total < configuration.maxWorkers {
            let wanted = queuePressure ? max(1, (readyJobs + 1) / 2 - total) : 1
            return Decision(add: min(wanted, configuration.maxScaleUpPerCycle, configuration.maxWorkers - total), retire: [])
        }
        guard readyJobs == 0, total > configuration.minWorkers else { return Decision(add: 0, retire: []) }
        let expired =
            workers
            .filter { !$0.isBusy && !$0.isLastOfItsProfile && now - $0.idleSince >= configuration.idleTimeout }
            .sorted { $0.idleSince < $1.idleSince }
        let removable = min(total - configuration.minWorkers, configuration.maxScaleDownPerCycle)
        return Decision(add: 0, retire: expired.prefix(removable).map(\.id))
    }
}
