#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COffloadSystem
import DequeModule
import Logging
import Synchronization

/// A worker that is a child process (isolation `process`).
///
/// The host writes `job`, `cancel` and `terminate` frames to the child's pipe from whichever
/// thread hands over the work; one reader thread per worker reads the child's frames, reports
/// them to the pool (taking the next job straight back), watches heartbeats and memory, and
/// reaps the child when its pipe ends. A job that traps, hangs or eats memory ends this
/// process only.
final class ProcessWorker: Worker {
    let id: WorkerID
    private let host: any BatchingWorkerHost
    private let options: WorkerProcessOptions
    private let limits: ResourceLimits
    /// The kinds the pool sends: a worker that says it is ready without one of them is ended.
    private let kinds: Set<String>
    private let executable: String
    private let environment: [String]
    private let logger: Logger
    private let processID = Atomic<Int32>(0)
    private let usage = Mutex<WorkerResourceUsage?>(nil)
    private let state = Mutex(State())

    private struct State {
        var writer: FrameWriter?
        /// Jobs handed over and not yet answered, in order: the first is the one running.
        var delivered = Deque<Assignment>()
        /// The next ``Assignment/sequence`` to write: jobs handed over from two threads at once
        /// go out in the pool's order, not in the order the threads get here.
        var nextSequence = 1
        /// Jobs that came before their turn, with their frames (`nil`: refused before sending).
        var early: [Int: (Assignment, WireMessage?)] = [:]
        var killReason: KillReason?
        var stopRequested = false
        var abandoned = false
    }

    init(
        id: WorkerID, host: any BatchingWorkerHost, options: WorkerProcessOptions, limits: ResourceLimits, kinds: Set<String>,
        executable: String, logger: Logger
    ) {
        self.id = id
        self.host = host
        self.options = options
        self.limits = limits
        self.kinds = kinds
        self.executable = executable
        self.logger = logger
        self.environment = Self.environment(for: options)
    }

    var pid: Int32 { processID.load(ordering: .acquiring) }
    var resourceUsage: WorkerResourceUsage? { usage.withLock { $0 } }

    // MARK: - Worker

    func start() {
        ProcessLauncher.shared.launch { [self] in launch() }
    }

    func deliver(_ assignment: Assignment) { deliver([assignment]) }

    /// Sends jobs to the child in one write, in the order the pool handed them over.
    private func deliver(_ assignments: [Assignment]) {
        var pending = Deque(assignments)
        var encoded: [(Assignment, WireMessage?)] = []
        while let assignment = pending.popFirst() {
            do throws(OffloadError) {
                let payload = try assignment.job.payload.jsonBytes()
                // Refused here, as it is: a frame over the limit would end the worker as a protocol error.
                try limits.checkPayload(bytes: payload.count)
                encoded.append(
                    (
                        assignment,
                        .job(
                            WireJob(
                                id: assignment.job.id.rawValue, attempt: assignment.attempt, kind: assignment.job.kind,
                                priority: assignment.job.priority,
                                payload: payload, ignoresUnknownKeys: assignment.job.payload.ignoresUnknownKeys,
                                announcesStart: assignment.announcesStart, trace: assignment.job.trace.values))
                    ))
            } catch {
                // The job cannot cross to the worker; its attempt fails here and the worker takes the next.
                encoded.append((assignment, nil))
                if let next = host.finish(assignment, result: .failure(error), on: self, takeNext: true) { pending.append(next) }
            }
        }
        guard let writer = state.withLock({ $0.writer }) else { return }
        let outcome = writer.send {
            state.withLock { state in
                for entry in encoded { state.early[entry.0.sequence] = entry }
                var frames: [WireMessage] = []
                while let (assignment, frame) = state.early.removeValue(forKey: state.nextSequence) {
                    state.nextSequence += 1
                    if let frame {
                        frames.append(frame)
                        state.delivered.append(assignment)
                    }
                }
                return frames
            }
        }
        // A failed write means the child is gone (its reader reports the exit and the jobs with
        // it); a stalled one, that it has not read for a heartbeat timeout (stopped): kill it.
        if outcome == .stalled { forceEnd(pid, .unresponsive(silentFor: options.heartbeatTimeout)) }
    }

    func cancel(_ job: JobID) {
        let (writer, attempt) = state.withLock { state -> (FrameWriter?, Int?) in
            (state.writer, state.delivered.first(where: { $0.job.id == job })?.attempt)
        }
        if let writer, let attempt { writer.send(.cancel(id: job.rawValue, attempt: attempt)) }
    }

    func stop() {
        let writer = state.withLock { state -> FrameWriter? in
            state.stopRequested = true
            return state.writer
        }
        writer?.send(.terminate)
    }

    func abandon() {
        state.withLock { $0.abandoned = true }
        let pid = pid
        if pid > 0 { kill(pid, SIGKILL) }
    }

    // MARK: - Start

    private static func environment(for options: WorkerProcessOptions) -> [String] {
        var variables: [(String, String)] = []
        if options.inheritsEnvironment {
            var entry = environ
            while let pointer = entry.pointee {
                let text = String(cString: pointer)
                if let equals = text.firstIndex(of: "=") {
                    variables.append((String(text[..<equals]), String(text[text.index(after: equals)...])))
                }
                entry += 1
            }
        }
        var overrides = options.environment
        overrides[WorkerProcess.environmentKey] = "3,4"
        if !options.backtraces && options.environment["SWIFT_BACKTRACE"] == nil {
            overrides["SWIFT_BACKTRACE"] = "enable=no"
        }
        variables.removeAll { overrides[$0.0] != nil }
        variables += overrides.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return variables.map { "\($0.0)=\($0.1)" }
    }

    /// On the launcher's thread: starts the child, caps it, and hands it to a reader thread.
    private func launch() {
        if state.withLock({ $0.abandoned }) { return }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                executable: executable, arguments: options.arguments,
                environment: environment, directory: options.workingDirectory)
        } catch {
            host.workerExited(self, cause: error)
            return
        }
        processID.store(child.pid, ordering: .releasing)
        if let limit = options.memoryLimit {
            let error = offload_set_limit(child.pid, offload_rlimit_data, UInt64(limit))
            if error != 0 { logger.debug("could not set RLIMIT_DATA", metadata: ["worker": "\(id)", "error": "\(describeErrno(error))"]) }
        }
        if let limit = options.cpuTimeLimit {
            let seconds = UInt64((limit.nanoseconds + 999_999_999) / 1_000_000_000)
            let error = offload_set_limit(child.pid, offload_rlimit_cpu, seconds)
            if error != 0 { logger.debug("could not set RLIMIT_CPU", metadata: ["worker": "\(id)", "error": "\(describeErrno(error))"]) }
        }
        _ = offload_set_nonblocking(child.toChild, 1)
        let writer = FrameWriter(fd: child.toChild, stallLimit: options.heartbeatTimeout)
        let (stopRequested, abandoned) = state.withLock { state in
            state.writer = writer
            return (state.stopRequested, state.abandoned)
        }
        if abandoned { kill(child.pid, SIGKILL) }
        let forwarder = OutputForwarder(fd: child.output, prefix: "offload \(id)", forwards: options.forwardsOutput)
        writer.send(
            .initialize(
                WireInitialize(
                    workerID: id.rawValue, heartbeatInterval: options.heartbeatInterval,
                    limits: limits, hostPID: SystemInfo.pid)))
        if stopRequested { writer.send(.terminate) }
        OSThread.detach(name: "offload-\(id)") { [self] in
            readLoop(child, writer: writer, forwarder: forwarder)
        }
    }

    // MARK: - Reading

    private func readLoop(_ child: ChildProcess, writer: FrameWriter, forwarder: OutputForwarder) {
        _ = offload_set_nonblocking(child.fromChild, 1)
        var reader = FrameReader(fd: child.fromChild, maxFrameBytes: limits.maxFrameBytes)
        let started = ContinuousClock.now
        var lastHeard = started
        var ready = false
        var killed = false
        reading: while true {
            var timeout: Duration?
            if !killed {
                let deadline = ready ? lastHeard + options.heartbeatTimeout : started + options.startTimeout
                let left = deadline - .now
                if left <= .zero {
                    forceEnd(child.pid, ready ? .unresponsive(silentFor: .now - lastHeard) : .startTimeout(options.startTimeout))
                    killed = true
                    continue
                }
                timeout = left
            }
            do {
                switch try reader.next(timeout: timeout) {
                case .quiet:
                    continue
                case .end:
                    break reading
                case .message(let first):
                    lastHeard = .now
                    // Every frame already read is handled under one pool lock, and the next jobs
                    // go out in one write.
                    var reports: [WorkerReport] = []
                    var message: WireMessage? = first
                    while let current = message {
                        if case .workerReady(_, let has) = current {
                            let missing = kinds.subtracting(has)
                            guard missing.isEmpty else {
                                // Not ready for the pool's jobs: a start that failed, with the reason.
                                forceEnd(child.pid, .missingKinds(missing: missing.sorted(), has: has.sorted()))
                                killed = true
                                break
                            }
                            ready = true
                        }
                        if let violation = handle(current, child: child, reports: &reports) {
                            forceEnd(child.pid, .protocolViolation(violation))
                            killed = true
                            break
                        }
                        message = try reader.buffered()
                    }
                    if !reports.isEmpty {
                        let next = host.report(reports, on: self)
                        if !next.isEmpty { deliver(next) }
                    }
                }
            } catch {
                forceEnd(child.pid, .protocolViolation("it sent \(error)"))
                break reading
            }
        }
        writer.close()
        closeDescriptor(child.fromChild)
        let status = WorkerExit.Status(waitStatus: child.waitForExit())
        let (killReason, abandoned) = state.withLock { state in
            state.writer = nil
            return (state.killReason, state.abandoned)
        }
        guard !abandoned else { return }
        let exit = WorkerExit(
            status: status, killReason: killReason, output: forwarder.lastLines(waitingUpTo: .milliseconds(200)),
            wasReady: ready, memoryLimit: options.memoryLimit, cpuTimeLimit: options.cpuTimeLimit,
            cpuTime: resourceUsage?.cpuTime)
        let clean = status == .exited(code: 0) && killReason == nil && state.withLock { $0.delivered.isEmpty }
        logger.debug("worker process ended", metadata: ["worker": "\(id)", "pid": "\(child.pid)", "status": "\(status.description)"])
        host.workerExited(self, cause: clean ? nil : exit.error(worker: id, pid: child.pid))
    }

    private func forceEnd(_ pid: Int32, _ reason: KillReason) {
        state.withLock { state in
            if state.killReason == nil { state.killReason = reason }
        }
        _ = kill(pid, SIGKILL)
    }

    /// Acts on one frame from the child, or adds it to `reports` for the pool; returns a
    /// description of a protocol violation.
    private func handle(_ message: WireMessage, child: ChildProcess, reports: inout [WorkerReport]) -> String? {
        switch message {
        case .workerReady:
            sample(child.pid)
            host.workerReady(self)
        case .jobStarted(let id, let attempt):
            reports.append(.started(JobID(id), attempt: attempt))
        case .jobProgress(let id, let attempt, let fraction, let note):
            reports.append(.progress(JobID(id), attempt: attempt, fraction: fraction, message: note))
        case .jobCompleted(let id, let attempt, let result):
            return finish(id, attempt, .success(.encoded(result)), reports: &reports)
        case .jobFailed(let id, let attempt, let failure):
            guard !failure.cancelled else { return finish(id, attempt, .failure(CancellationError()), reports: &reports) }
            var error = OffloadError(OffloadError.Code(rawValue: failure.code), failure.message, retryable: failure.retryable)
            if let milliseconds = failure.snoozeMilliseconds {
                error = .snooze(for: .milliseconds(Int64(clamping: milliseconds)), failure.message)
            }
            return finish(id, attempt, .failure(error), reports: &reports)
        case .heartbeat:
            sample(child.pid)
        case .workerError(let text):
            logger.debug("worker process reported an error", metadata: ["worker": "\(id)", "message": "\(text)"])
        case .initialize, .job, .cancel, .terminate:
            return "a worker may not send \(message.kind) frames"
        }
        return nil
    }

    private func finish(_ id: String, _ attempt: Int, _ result: Result<JobResult, any Error>, reports: inout [WorkerReport]) -> String? {
        let assignment = state.withLock { state -> Assignment? in
            // The answer is nearly always for the first job held.
            guard let index = state.delivered.firstIndex(where: { $0.attempt == attempt && $0.job.id.rawValue == id }) else { return nil }
            return state.delivered.remove(at: index)
        }
        guard let assignment else { return "a result for job '\(id)' attempt \(attempt), which it was not running" }
        reports.append(.finished(assignment, result))
        return nil
    }

    /// Reads the child's memory and CPU time; kills it when over its memory limit.
    private func sample(_ pid: Int32) {
        guard let reading = ProcessStats.sample(pid) else { return }
        usage.withLock { $0 = reading }
        if let limit = options.memoryLimit, reading.residentBytes > limit {
            forceEnd(pid, .memory(resident: reading.residentBytes, limit: limit))
        }
    }
}
