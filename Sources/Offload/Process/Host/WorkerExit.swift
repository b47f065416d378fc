#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COffloadSystem

/// Why the host killed a worker process, when it did.
enum KillReason: Sendable {
    case memory(resident: Int, limit: Int)
    case unresponsive(silentFor: Duration)
    case protocolViolation(String)
    case startTimeout(Duration)
    /// It said it was ready without handlers for some of the pool's kinds.
    case missingKinds(missing: [String], has: [String])
}

/// How a worker process ended, and the error its running job gets for it.
struct WorkerExit: Sendable {
    /// How the process ended.
    enum Status: Sendable, Equatable {
        case exited(code: Int32)
        case signalled(Int32)
        case unknown(raw: Int32)

        init(waitStatus: Int32) {
            var value: Int32 = 0
            switch offload_decode_wait_status(waitStatus, &value) {
            case 1: self = .exited(code: value)
            case 2: self = .signalled(value)
            default: self = .unknown(raw: waitStatus)
            }
        }

        var description: String {
            switch self {
            case .exited(let code): "exited with code \(code)"
            case .signalled(let signal): "died by signal \(signal) (\(WorkerExit.signalName(signal)))"
            case .unknown(let raw): "ended with wait status \(raw)"
            }
        }
    }

    var status: Status
    var killReason: KillReason?
    /// The last lines the worker printed.
    var output: String
    var wasReady: Bool
    var memoryLimit: Int?
    var cpuTimeLimit: Duration?
    /// The worker's CPU time at its last sample.
    var cpuTime: Duration?

    /// The error for the job the worker was running (and, before it was ready, for the start).
    func error(worker: WorkerID, pid: Int32) -> OffloadError {
        let who = "worker \(worker) (pid \(pid))"
        let said = lastMessage.map { ": \($0)" } ?? ""
        switch killReason {
        case .memory(let resident, let limit):
            return OffloadError(.memoryLimitExceeded, "\(who) used \(mebibytes(resident)) of its \(mebibytes(limit)) memory limit and was killed")
        case .unresponsive(let silence):
            return OffloadError(.workerCrashed, "\(who) sent no heartbeat for \(Int(silence.milliseconds)) ms and was killed")
        case .protocolViolation(let detail):
            return OffloadError(.protocolError, "\(who) broke the wire protocol and was killed: \(detail)")
        case .missingKinds(let missing, let has):
            return OffloadError(
                .workerStartFailed,
                "\(who) has no handler for \(missing.joined(separator: ", ")) (it runs \(has.isEmpty ? "none" : has.joined(separator: ", "))); call WorkerProcess.runIfWorker(registry:) with the registry the pool was made with"
            )
        case .startTimeout(let limit):
            return OffloadError(
                .workerStartFailed,
                "\(who) was not ready within \(Int(limit.milliseconds)) ms and was killed; does its executable call WorkerProcess.runIfWorker at the top of main?\(said)"
            )
        case nil:
            break
        }
        if let memoryLimit, ranOutOfMemory {
            return OffloadError(.memoryLimitExceeded, "\(who) ran out of its \(mebibytes(memoryLimit)) memory limit and \(status.description)\(said)")
        }
        if let cpuTimeLimit, ranOutOfCPU(cpuTimeLimit) {
            return OffloadError(
                .cpuLimitExceeded, "\(who) used up its CPU-time limit of \(Int(cpuTimeLimit.milliseconds / 1000)) s and \(status.description)")
        }
        guard wasReady else {
            return OffloadError(.workerStartFailed, "\(who) \(status.description) before it was ready\(said)")
        }
        return OffloadError(.workerCrashed, "\(who) \(status.description) while running the job\(said)")
    }

    /// An allocation failure under the data limit aborts a Swift process with one of these messages.
    private var ranOutOfMemory: Bool {
        guard case .signalled(let signal) = status, signal == SIGABRT || signal == SIGSEGV || signal == SIGKILL else { return false }
        let text = output.lowercased()
        return text.contains("could not allocate") || text.contains("failed to allocate") || text.contains("out of memory")
            || text.contains("cannot allocate memory")
    }

    private func ranOutOfCPU(_ limit: Duration) -> Bool {
        guard case .signalled(let signal) = status else { return false }
        if signal == SIGXCPU { return true }
        return signal == SIGKILL && (cpuTime ?? .zero) >= limit - .milliseconds(500)
    }

    /// What the worker last said before it ended: the runtime's own diagnosis (`Fatal error: …`)
    /// when there is one, else its last line before any stack trace; shortened.
    private var lastMessage: String? {
        var lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        if let trace = lines.lastIndex(where: { $0.hasPrefix("Current stack trace") || $0.hasPrefix("💣") || $0.hasPrefix("*** ") }) {
            lines = Array(lines[..<trace])
        }
        let line = lines.last(where: { $0.contains("Fatal error") || $0.contains("fatal error") }) ?? lines.last
        guard let line else { return nil }
        return line.count > 300 ? String(line.prefix(300)) + "…" : line
    }

    private func mebibytes(_ bytes: Int) -> String { "\(bytes >> 20) MiB" }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGILL: "SIGILL, a Swift trap"
        case SIGTRAP: "SIGTRAP, a Swift trap"
        case SIGABRT: "SIGABRT"
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGXCPU: "SIGXCPU"
        case SIGPIPE: "SIGPIPE"
        default: "signal \(signal)"
        }
    }
}

private extension Substring {
    func trimmingCharacters() -> String {
        var text = self
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
