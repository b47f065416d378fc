import Synchronization
@testable import Offload

/// A worker that only records what the pool asks of it: the pool's state machine, driven
/// through ``PoolStateHarness``, with no thread and no process behind it.
final class FakeWorker: Worker {
    enum Call: Equatable, CustomStringConvertible {
        case start
        case deliver(JobID, attempt: Int)
        case cancel(JobID)
        case stop
        case abandon

        var description: String {
            switch self {
            case .start: "start"
            case .deliver(let id, let attempt): "deliver \(id)#\(attempt)"
            case .cancel(let id): "cancel \(id)"
            case .stop: "stop"
            case .abandon: "abandon"
            }
        }
    }

    let id: WorkerID
    let pid: Int32
    var resourceUsage: WorkerResourceUsage? { nil }
    private let log = Mutex<[Call]>([])
    /// What the worker holds, in order: the job it runs first.
    private let holding = Mutex<[Assignment]>([])

    init(id: WorkerID, pid: Int32) {
        self.id = id
        self.pid = pid
    }

    var calls: [Call] { log.withLock { $0 } }
    var held: [Assignment] { holding.withLock { $0 } }

    /// Forgets the calls so far.
    func clear() { log.withLock { $0.removeAll() } }

    func start() { log.withLock { $0.append(.start) } }
    func deliver(_ assignment: Assignment) {
        log.withLock { $0.append(.deliver(assignment.job.id, attempt: assignment.attempt)) }
        holding.withLock { $0.append(assignment) }
    }
    func cancel(_ job: JobID) { log.withLock { $0.append(.cancel(job)) } }
    func stop() { log.withLock { $0.append(.stop) } }
    func abandon() { log.withLock { $0.append(.abandon) } }

    /// Takes the job the worker holds with this id (as it ends it).
    func take(_ id: JobID) -> Assignment? {
        holding.withLock { held in
            guard let index = held.firstIndex(where: { $0.job.id == id }) else { return nil }
            return held.remove(at: index)
        }
    }
}

/// Drives a ``PoolState`` as ``WorkerPool`` does, with a clock the test moves and fake workers,
/// and performs its effects on them: every transition of the pool without threads or sleeps.
struct PoolStateHarness {
    var state: PoolState
    private(set) var now: ContinuousClock.Instant
    let inbox = SubmissionInbox()
    private let workerBox: WorkerBox
    private let registry: HandlerRegistry
    private let recorder = MetricsRecorder(pool: "test")
    /// The events of every step so far.
    private(set) var events: [PoolEvent] = []
    private(set) var tickets: [JobID: JobTicket] = [:]
    /// When the supervisor would run next, as the last tick said.
    private(set) var nextTick: ContinuousClock.Instant

    private final class WorkerBox: Sendable {
        let made = Mutex<[FakeWorker]>([])
    }

    init(_ configuration: PoolConfiguration, registry: HandlerRegistry = .diagnostics) {
        let start = ContinuousClock.now
        let box = WorkerBox()
        self.workerBox = box
        self.registry = registry
        self.now = start
        self.nextTick = start
        state = PoolState(configuration: configuration, kinds: registry.kinds, inbox: inbox, now: start) { id, _ in
            box.made.withLock { made in
                let worker = FakeWorker(id: id, pid: Int32(1000 + made.count))
                made.append(worker)
                return worker
            }
        }
        state.events.isOn = true
    }

    /// Every worker the pool has made, in order.
    var workers: [FakeWorker] { workerBox.made.withLock { $0 } }

    func worker(_ id: WorkerID) -> FakeWorker { workers.first { $0.id == id }! }

    /// The workers the pool still has, by id.
    var live: [WorkerID] { state.workers.map(\.id) }

    mutating func advance(by duration: Duration) { now += duration }

    mutating func advance(to instant: ContinuousClock.Instant) { now = max(now, instant) }

    // MARK: - What the pool's callers do

    mutating func start() { perform(state.start(now: now)) }

    mutating func ready(_ id: WorkerID) { perform(state.workerReady(id, now: now)) }

    /// Starts the pool and makes every worker it starts ready.
    mutating func startReady() {
        start()
        for worker in state.workers { ready(worker.id) }
    }

    @discardableResult
    mutating func submit(_ job: Job) -> JobTicket {
        var job = job
        if job.timeout == nil { job.timeout = state.configuration.defaultTimeout }
        let ticket = JobTicket(id: job.id) { _ in false }
        let record = JobRecord(
            job: job, handle: ticket, handler: registry.handler(for: job.kind)!,
            lane: PoolState.lane(for: job, policy: state.configuration.policy),
            metrics: recorder.metrics(for: job.kind), now: now)
        precondition(inbox.add(record), "duplicate job \(job.id)")
        tickets[job.id] = ticket
        var effects = PoolEffects()
        state.dispatch(now: now, &effects)
        perform(effects)
        return ticket
    }

    /// A worker ends the job it holds with `id`; it takes its next job straight away, as
    /// workers do, and the harness delivers it.
    mutating func finish(_ worker: WorkerID, _ id: JobID, _ result: Result<JobResult, any Error>) {
        guard let assignment = self.worker(worker).take(id) else { preconditionFailure("\(worker) holds no job \(id)") }
        let (next, effects) = state.finish(assignment, result: result, worker: worker, takeNext: true, now: now)
        perform(effects)
        if let next { self.worker(worker).deliver(next) }
    }

    mutating func complete(_ worker: WorkerID, _ id: JobID) { finish(worker, id, .success(.value(JSONValue.null))) }

    /// A worker process said it started a job it held.
    mutating func started(_ worker: WorkerID, _ id: JobID, attempt: Int) {
        perform(state.jobStarted(id, attempt: attempt, worker: worker, now: now))
    }

    mutating func exited(_ worker: WorkerID, cause: OffloadError? = nil) {
        perform(state.workerExited(worker, cause: cause, now: now))
    }

    @discardableResult
    mutating func cancel(_ id: JobID) -> Bool {
        let (found, effects) = state.cancel(id, now: now)
        perform(effects)
        return found
    }

    mutating func beginShutdown(timeout: Duration) { perform(state.beginShutdown(timeout: timeout, now: now)) }

    /// The supervisor's periodic work, at the current time.
    mutating func tick() {
        let (effects, next) = state.tick(now: now)
        nextTick = next
        perform(effects)
    }

    /// Moves the clock to the supervisor's next planned wake-up and ticks.
    mutating func tickWhenDue() {
        advance(to: nextTick)
        tick()
    }

    // MARK: - Reading

    func outcome(_ id: JobID) -> JobOutcome? { tickets[id]?.currentOutcome }

    /// Names of the events of job `id`, in order.
    func eventNames(of id: JobID) -> [String] {
        events.compactMap { event in event.jobInfo?.job == id ? event.name : nil }
    }

    private mutating func perform(_ effects: PoolEffects) {
        for worker in effects.starts { (worker as! FakeWorker).start() }
        for (worker, assignment) in effects.deliveries { (worker as! FakeWorker).deliver(assignment) }
        for (worker, job) in effects.cancels { (worker as! FakeWorker).cancel(job) }
        for worker in effects.stops { (worker as! FakeWorker).stop() }
        for worker in effects.abandons { (worker as! FakeWorker).abandon() }
        for (handle, outcome) in effects.resolutions { handle.resolve(outcome) }
        events += state.events.take()
    }
}
