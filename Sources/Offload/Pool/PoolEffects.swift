/// What the pool does after leaving its lock, in this order.
struct PoolEffects {
    var starts: [any Worker] = []
    var deliveries: [(worker: any Worker, assignment: Assignment)] = []
    var cancels: [(worker: any Worker, job: JobID)] = []
    var stops: [any Worker] = []
    var abandons: [any Worker] = []
    var resolutions: [(handle: JobTicket, outcome: JobOutcome)] = []
    var admitted: [CheckedContinuation<Void, Never>] = []
    var stopped: [CheckedContinuation<Void, Never>] = []
    var wakeSupervisor = false
    var finishEvents = false

    /// Adds the effects of a later step, to be performed after these.
    mutating func merge(_ other: PoolEffects) {
        starts += other.starts
        deliveries += other.deliveries
        cancels += other.cancels
        stops += other.stops
        abandons += other.abandons
        resolutions += other.resolutions
        admitted += other.admitted
        stopped += other.stopped
        wakeSupervisor = wakeSupervisor || other.wakeSupervisor
        finishEvents = finishEvents || other.finishEvents
    }
}
