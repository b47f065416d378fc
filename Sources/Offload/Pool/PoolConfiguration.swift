public import Logging
public import Tracing

/// How a pool runs: workers, scheduling, limits and shutdown.
///
/// ```swift
/// var configuration = PoolConfiguration(scaling: .fixed(4), policy: .roundRobin)
/// configuration.agingInterval = .seconds(2)
/// ```
public struct PoolConfiguration: Sendable {
    /// What happens when a job is submitted to a full queue.
    public enum Overflow: Sendable, Hashable {
        /// `submit` waits until there is room.
        case wait
        /// `submit` throws ``OffloadError/Code/queueFull``.
        case fail
    }

    /// The pool's name: the `pool` dimension of its gauges (queue length, workers), so that two
    /// pools of one process report apart. Default `default`.
    public var name: String = "default"
    /// Where workers run.
    public var isolation: Isolation
    /// How many workers, and when to add or end them.
    public var scaling: ScalingConfiguration
    /// Which job runs next and where.
    public var policy: any SchedulingPolicy
    /// The wait that raises a ready job by one priority level; `nil` disables aging.
    public var agingInterval: Duration?
    /// Whether critical jobs may preempt lower work when every worker is busy.
    public var preemption: Bool
    /// Queued jobs (ready and delayed) at most; `nil` for no limit.
    public var capacity: Int?
    /// What a submit to a full queue does.
    public var overflow: Overflow
    /// Capabilities of the workers, one set per profile; worker profiles are handed out so that each
    /// has at least one worker. Empty: one profile declaring every registered kind.
    public var workerProfiles: [Set<String>]
    /// How long a job asked to stop may take before its worker is given up on (and replaced).
    public var cancellationGracePeriod: Duration
    /// How long a graceful shutdown lets queued and running jobs finish before cancelling them.
    public var shutdownTimeout: Duration
    /// The timeout of a job that sets none, so that nothing runs forever; `nil`: such jobs have
    /// no limit. Default 60 s (as River's).
    public var defaultTimeout: Duration?
    /// What one job may use of memory its input controls (see ``ResourceLimits``).
    public var limits: ResourceLimits
    /// Whether a payload given as a Swift value may carry keys its handler's payload type does
    /// not read (a newer submitter, an older worker: a rolling deploy), ignored instead of
    /// failing `invalidPayload`. JSON payloads (job files) are read strictly whatever this says.
    public var ignoresUnknownPayloadKeys: Bool
    /// How worker processes are started and watched (isolation `process` only).
    public var workerProcess: WorkerProcessOptions
    /// A worker that has ended this many jobs is replaced by a fresh one; `nil`: never.
    public var maxJobsPerWorker: Int?
    /// A worker this old is replaced by a fresh one once it holds no job; `nil`: never.
    public var maxLifetime: Duration?
    /// Thread isolation: worker threads left stuck in jobs that ignored a stop request, at most.
    /// Each such worker is replaced by a new thread; past this many, no worker starts until one
    /// of them returns, and queued jobs fail `workerStartFailed` saying why (a job that may
    /// ignore its timeout belongs in process isolation, where it is killed). Default 16.
    public var maxAbandonedThreads: Int
    /// The buffering of each event stream.
    public var eventBuffering: AsyncStream<PoolEvent>.Continuation.BufferingPolicy
    /// Limits per kind (concurrency, rate, paused) this pool's workers keep; a held-back job
    /// waits. Change them while the pool runs with ``WorkerPool/setLimits(_:for:)``.
    public var kindLimits: [String: KindLimits] = [:]
    /// Where the pool logs (debug and trace levels only).
    public var logger: Logger
    /// The tracer of the jobs' spans (`offload.submit`, `offload.wait`, `offload.run`); `nil`
    /// (default) for the one bootstrapped in `InstrumentationSystem`, if any.
    public var tracer: (any Tracer)?

    /// - Parameters:
    ///   - isolation: where workers run (default `.thread`).
    ///   - scaling: worker counts and scaling (default: 1 to the number of CPUs).
    ///   - policy: the scheduling policy (default `.priority`).
    ///   - agingInterval: the wait worth one priority level (default 10 s).
    ///   - preemption: whether critical jobs preempt (default `true`).
    ///   - capacity: the queue bound (default none).
    ///   - overflow: what a submit to a full queue does (default `.wait`).
    ///   - workerProfiles: capability profiles (default: every worker runs every kind).
    ///   - cancellationGracePeriod: time a job has to honour a stop request (default 1 s).
    ///   - shutdownTimeout: time a graceful shutdown waits for jobs (default 30 s).
    ///   - defaultTimeout: the timeout of jobs that set none (default 60 s; `nil` for none).
    ///   - limits: per-job resource budgets (default ``ResourceLimits/init(maxDecodedPixels:maxLayers:maxGroups:maxAggregationBytes:maxHeldRecords:maxMessageBytes:)``).
    ///   - ignoresUnknownPayloadKeys: whether Swift payloads may carry keys their handler does not read (default `false`).
    ///   - workerProcess: worker-process options (default: this executable, no limits).
    ///   - maxJobsPerWorker: jobs after which a worker is recycled (default: never).
    ///   - maxLifetime: age after which a worker is recycled (default: never).
    ///   - maxAbandonedThreads: stuck worker threads kept before no more start (default 16).
    ///   - eventBuffering: buffering of event streams (default unbounded).
    ///   - logger: the pool's logger (default: a logger labelled `offload`).
    public init(
        isolation: Isolation = .thread,
        scaling: ScalingConfiguration = ScalingConfiguration(),
        policy: any SchedulingPolicy = PriorityPolicy(),
        agingInterval: Duration? = .seconds(10),
        preemption: Bool = true,
        capacity: Int? = nil,
        overflow: Overflow = .wait,
        workerProfiles: [Set<String>] = [],
        cancellationGracePeriod: Duration = .seconds(1),
        shutdownTimeout: Duration = .seconds(30),
        defaultTimeout: Duration? = .seconds(60),
        limits: ResourceLimits = ResourceLimits(),
        ignoresUnknownPayloadKeys: Bool = false,
        workerProcess: WorkerProcessOptions = WorkerProcessOptions(),
        maxJobsPerWorker: Int? = nil,
        maxLifetime: Duration? = nil,
        maxAbandonedThreads: Int = 16,
        eventBuffering: AsyncStream<PoolEvent>.Continuation.BufferingPolicy = .unbounded,
        logger: Logger = Logger(label: "offload")
    ) {
        self.isolation = isolation
        self.scaling = scaling
        self.policy = policy
        self.agingInterval = agingInterval
        self.preemption = preemption
        self.capacity = capacity
        self.overflow = overflow
        self.workerProfiles = workerProfiles
        self.cancellationGracePeriod = cancellationGracePeriod
        self.shutdownTimeout = shutdownTimeout
        self.defaultTimeout = defaultTimeout
        self.limits = limits
        self.ignoresUnknownPayloadKeys = ignoresUnknownPayloadKeys
        self.workerProcess = workerProcess
        self.maxJobsPerWorker = maxJobsPerWorker
        self.maxLifetime = maxLifetime
        self.maxAbandonedThreads = maxAbandonedThreads
        self.eventBuffering = eventBuffering
        self.logger = logger
    }

    /// Jobs one worker may hold at once.
    var workerCapacity: Int { isolation == .process ? workerProcess.prefetch : 1 }

    func validate() throws(OffloadError) {
        try scaling.validate()
        if let capacity, capacity < 1 { throw OffloadError(.invalidConfiguration, "capacity must be at least 1") }
        if let agingInterval, agingInterval <= .zero { throw OffloadError(.invalidConfiguration, "agingInterval must be positive") }
        if cancellationGracePeriod < .zero { throw OffloadError(.invalidConfiguration, "cancellationGracePeriod must not be negative") }
        if shutdownTimeout < .zero { throw OffloadError(.invalidConfiguration, "shutdownTimeout must not be negative") }
        if let defaultTimeout, defaultTimeout <= .zero { throw OffloadError(.invalidConfiguration, "defaultTimeout must be positive") }
        try limits.validate()
        for (kind, kindLimits) in kindLimits {
            do { try kindLimits.validate() } catch { throw OffloadError(.invalidConfiguration, "kindLimits[\(kind)]: \(error.message)") }
        }
        if let maxJobsPerWorker, maxJobsPerWorker < 1 { throw OffloadError(.invalidConfiguration, "maxJobsPerWorker must be at least 1") }
        if let maxLifetime, maxLifetime <= .zero { throw OffloadError(.invalidConfiguration, "maxLifetime must be positive") }
        if maxAbandonedThreads < 0 { throw OffloadError(.invalidConfiguration, "maxAbandonedThreads must not be negative") }
        if isolation == .process {
            if WorkerProcess.isWorker {
                throw OffloadError(
                    .invalidConfiguration,
                    "this process was started as an Offload worker but made a pool instead of calling WorkerProcess.runIfWorker(registry:) at the top of main"
                )
            }
            try workerProcess.validate()
        }
        if workerProfiles.count > scaling.maxWorkers {
            throw OffloadError(
                .invalidConfiguration, "\(workerProfiles.count) worker profiles need at least as many workers (maxWorkers is \(scaling.maxWorkers))")
        }
    }
}
