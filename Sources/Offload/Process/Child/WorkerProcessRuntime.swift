#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COffloadSystem
import DequeModule
import Logging
import Synchronization

/// The loop of a worker process: reads frames from the host, runs jobs one after another on a
/// ``ThreadWorker`` of its own, answers with frames, and beats from a separate thread so the
/// host can tell a busy worker from a wedged one.
final class WorkerProcessRuntime: WorkerHost {
    private let input: Int32
    private let writer: FrameWriter
    private let registry: HandlerRegistry
    private let logger: Logger
    private let state = Mutex(State())
    /// The host's budgets (results over `maxMessageBytes` are refused); set before any job runs.
    private let limits = Mutex(ResourceLimits())

    private struct State {
        var worker: ThreadWorker?
        /// The attempt the worker runs now.
        var running: (id: JobID, attempt: Int)?
        /// Jobs delivered behind the running one (the host's prefetch window).
        var held = Deque<Assignment>()
        var terminating = false
    }

    init(input: Int32, output: Int32, registry: HandlerRegistry, logger: Logger) {
        self.input = input
        self.writer = FrameWriter(fd: output)
        self.registry = registry
        self.logger = logger
    }

    /// Runs until the host ends the worker or goes away; returns the exit status.
    func run() -> Int32 {
        _ = offload_set_parent_death_kill()
        // If the host died before the signal was armed, our parent is already another process
        // (and the pipe below ends at once); the heartbeat thread watches for the change.
        let parent = getppid()
        var reader = FrameReader(fd: input, maxFrameBytes: WireFormat.defaultMaxFrameBytes)
        let initialize: WireInitialize
        do {
            switch try reader.next() {
            case .message(.initialize(let value)): initialize = value
            case .end, .quiet: return 0
            case .message(let other):
                writer.send(.workerError(message: "the first frame was \(other.kind), not initialize"))
                return 65
            }
        } catch {
            writer.send(.workerError(message: "the first frame is bad: \(error)"))
            return 65
        }
        reader.maxFrameBytes = initialize.maxFrameBytes
        startHeartbeat(every: initialize.heartbeatInterval, parent: parent)
        limits.withLock { $0 = initialize.limits }
        let worker = ThreadWorker(id: WorkerID(initialize.workerID), host: self, isolation: .process, limits: initialize.limits, logger: logger)
        state.withLock { $0.worker = worker }
        worker.start()
        while true {
            do {
                switch try reader.next() {
                case .message(let message): handle(message, worker: worker)
                case .quiet: continue
                // The host is gone: nobody is left to report to.
                case .end: return 0
                }
            } catch {
                writer.send(.workerError(message: "worker \(initialize.workerID) received \(error)"))
                return 65
            }
        }
    }

    private func handle(_ message: WireMessage, worker: ThreadWorker) {
        switch message {
        case .job(let wire):
            receive(wire, worker: worker)
        case .cancel(let id, let attempt):
            cancel(JobID(id), attempt: attempt, worker: worker)
        case .terminate:
            let idle = state.withLock { state in
                state.terminating = true
                return state.running == nil
            }
            if idle { worker.stop() }
        case .initialize, .workerReady, .jobStarted, .jobProgress, .jobCompleted, .jobFailed, .heartbeat, .workerError:
            writer.send(.workerError(message: "a worker does not take \(message.kind) frames; ignored"))
        }
    }

    private func receive(_ wire: WireJob, worker: ThreadWorker) {
        guard let handler = registry.handler(for: wire.kind) else {
            let failure = WireFailure(
                code: OffloadError.Code.unknownKind.rawValue,
                message: "the worker process has no handler for kind '\(wire.kind)' (known: \(registry.kinds.joined(separator: ", ")))",
                retryable: false, cancelled: false)
            writer.send(.jobFailed(id: wire.id, attempt: wire.attempt, failure: failure))
            return
        }
        var job = Job(
            id: JobID(wire.id), kind: wire.kind, payload: .encoded(wire.payload, ignoresUnknownKeys: wire.ignoresUnknownKeys),
            priority: wire.priority)
        // Checked when the frame was read.
        job.trace = (try? TraceHeaders(wire.trace)) ?? TraceHeaders()
        let assignment = Assignment(job: job, attempt: wire.attempt, handler: handler)
        let runNow = state.withLock { state -> Bool in
            guard state.running == nil else {
                state.held.append(assignment)
                return false
            }
            state.running = (job.id, wire.attempt)
            return true
        }
        if runNow {
            // The host thought this job would wait behind another (whose end crossed this job on the way).
            if wire.announcesStart { writer.send(.jobStarted(id: wire.id, attempt: wire.attempt)) }
            worker.deliver(assignment)
        }
    }

    private func cancel(_ id: JobID, attempt: Int, worker: ThreadWorker) {
        let (wasHeld, isRunning) = state.withLock { state -> (Bool, Bool) in
            if let index = state.held.firstIndex(where: { $0.job.id == id && $0.attempt == attempt }) {
                state.held.remove(at: index)
                return (true, false)
            }
            return (false, state.running.map { $0.id == id && $0.attempt == attempt } ?? false)
        }
        if wasHeld {
            writer.send(.jobFailed(id: id.rawValue, attempt: attempt, failure: Self.failure(from: CancellationError())))
        } else if isRunning {
            worker.cancel(id)
        }
    }

    private func startHeartbeat(every interval: Duration, parent: Int32) {
        let writer = writer
        let microseconds = UInt32(clamping: max(interval.nanoseconds / 1_000, 1_000))
        OSThread.detach(name: "offload-beat") {
            var sequence: UInt64 = 0
            while true {
                usleep(microseconds)
                // Orphaned (the host died without closing our pipe, or the death signal was missed).
                if getppid() != parent { _exit(0) }
                sequence += 1
                if !writer.send(.heartbeat(sequence: sequence)) { _exit(0) }
            }
        }
    }

    /// How a failed attempt crosses the wire.
    static func failure(from error: any Error) -> WireFailure {
        if error is CancellationError {
            return WireFailure(code: OffloadError.Code.cancelled.rawValue, message: "stopped at the host's request", retryable: nil, cancelled: true)
        }
        let offload = PoolState.offloadError(from: error)
        return WireFailure(
            code: offload.code.rawValue, message: offload.message, retryable: offload.retryable, cancelled: false,
            snoozeMilliseconds: offload.snoozeFor.map { UInt64(max(0, $0.milliseconds.rounded())) })
    }

    // MARK: - WorkerHost (what the worker's thread reports)

    func workerReady(_ worker: any Worker) {
        writer.send(.workerReady(pid: getpid(), kinds: registry.kinds))
    }

    func progress(of job: JobID, attempt: Int, fraction: Double, message: String?) {
        writer.send(.jobProgress(id: job.rawValue, attempt: attempt, fraction: fraction, message: message))
    }

    func finish(_ assignment: Assignment, result: Result<JobResult, any Error>, on worker: any Worker, takeNext: Bool) -> Assignment? {
        let id = assignment.job.id.rawValue
        var frames: [WireMessage] = []
        switch result {
        case .success(let output):
            do throws(OffloadError) {
                let bytes = try output.jsonBytes()
                try limits.withLock { $0 }.checkResult(bytes: bytes.count)
                frames.append(.jobCompleted(id: id, attempt: assignment.attempt, result: bytes))
            } catch  where error.code == .resourceLimitExceeded {
                frames.append(.jobFailed(id: id, attempt: assignment.attempt, failure: Self.failure(from: error)))
            } catch {
                frames.append(
                    .jobFailed(
                        id: id, attempt: assignment.attempt,
                        failure: Self.failure(
                            from: OffloadError(.handlerFailed, "the job's result could not be encoded as JSON: \(error.message)"))))
            }
        case .failure(let error):
            frames.append(.jobFailed(id: id, attempt: assignment.attempt, failure: Self.failure(from: error)))
        }
        let (next, stopNow) = state.withLock { state -> (Assignment?, Bool) in
            if let next = state.held.popFirst() {
                state.running = (next.job.id, next.attempt)
                return (next, false)
            }
            state.running = nil
            return (nil, state.terminating)
        }
        if let next { frames.append(.jobStarted(id: next.job.id.rawValue, attempt: next.attempt)) }
        // The host is gone when this fails; the read loop sees the end of its pipe too.
        if writer.send(contentsOf: frames) != .written { _exit(0) }
        if let next {
            if takeNext { return next }
            worker.deliver(next)
        } else if stopNow {
            worker.stop()
        }
        return nil
    }

    func workerExited(_ worker: any Worker, cause: OffloadError?) {
        exit(0)
    }
}
