/// Arrival order, whatever the priority; never preempts.
public struct FIFOPolicy: SchedulingPolicy {
    public init() {}
    public var name: String { "fifo" }
    public var ordering: QueueOrdering { .fifo }
    public mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? { candidates.first?.id }
    public func shouldPreempt(running: JobInfo, for incoming: JobInfo) -> Bool { false }
}

/// Priority order with aging (the default); the first free worker takes the job.
public struct PriorityPolicy: SchedulingPolicy {
    public init() {}
    public var name: String { "priority" }
    public mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? { candidates.first?.id }
}

/// Priority order; free workers take jobs in turn, so work spreads evenly over them.
public struct RoundRobinPolicy: SchedulingPolicy {
    private var lastWorker: WorkerID?
    public init() {}
    public var name: String { "roundRobin" }
    public mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? {
        let ordered = candidates.sorted { WorkerNumbering.less($0.id, $1.id) }
        let next = ordered.first(where: { candidate in lastWorker.map { WorkerNumbering.less($0, candidate.id) } ?? true }) ?? ordered.first
        lastWorker = next?.id
        return next?.id
    }
}

/// Priority order; the free worker that has been busy the least takes the job.
public struct LeastLoadedPolicy: SchedulingPolicy {
    public init() {}
    public var name: String { "leastLoaded" }
    public mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? {
        candidates.min(by: { ($0.busyTime, $0.jobsCompleted) < ($1.busyTime, $1.jobsCompleted) })?.id
    }
}

/// Priority order; a job runs only on workers that declare its kind, and goes to the one that
/// declares the fewest other capabilities, keeping generalist workers free.
public struct CapabilityBasedPolicy: SchedulingPolicy {
    public init() {}
    public var name: String { "capabilityBased" }
    public var requiresDeclaredKind: Bool { true }
    public mutating func selectWorker(for job: JobInfo, among candidates: [WorkerInfo]) -> WorkerID? {
        candidates.min(by: { $0.capabilities.count < $1.capabilities.count })?.id
    }
}

extension SchedulingPolicy where Self == FIFOPolicy { public static var fifo: FIFOPolicy { FIFOPolicy() } }
extension SchedulingPolicy where Self == PriorityPolicy { public static var priority: PriorityPolicy { PriorityPolicy() } }
extension SchedulingPolicy where Self == RoundRobinPolicy { public static var roundRobin: RoundRobinPolicy { RoundRobinPolicy() } }
extension SchedulingPolicy where Self == LeastLoadedPolicy { public static var leastLoaded: LeastLoadedPolicy { LeastLoadedPolicy() } }
extension SchedulingPolicy where Self == CapabilityBasedPolicy {
    public static var capabilityBased: CapabilityBasedPolicy { CapabilityBasedPolicy() }
}

/// The built-in policies by name.
public enum SchedulingPolicies {
    /// The names `--policy` accepts.
    public static let names = ["fifo", "priority", "roundRobin", "leastLoaded", "capabilityBased"]

    /// The built-in policy called `name`, or `nil`.
    public static func named(_ name: String) -> (any SchedulingPolicy)? {
        switch name {
        case "fifo": FIFOPolicy()
        case "priority": PriorityPolicy()
        case "roundRobin": RoundRobinPolicy()
        case "leastLoaded": LeastLoadedPolicy()
        case "capabilityBased": CapabilityBasedPolicy()
        default: nil
        }
    }
}

/// Worker ids are `w` and a number; they sort by that number.
enum WorkerNumbering {
    static func number(_ id: WorkerID) -> Int { Int(id.rawValue.drop(while: { !$0.isNumber })) ?? Int.max }
    static func less(_ a: WorkerID, _ b: WorkerID) -> Bool {
        let (x, y) = (number(a), number(b))
        return x != y ? x < y : a.rawValue < b.rawValue
    }
}
