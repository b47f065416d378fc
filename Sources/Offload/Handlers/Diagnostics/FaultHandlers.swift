#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `debug.hang`: never returns and ignores cancellation, like a job stuck in a system call.
/// In thread isolation the pool reports it `timedOut` and replaces its worker; the thread stays blocked.
struct HangHandler: JobHandler {
    struct Payload: Codable, Sendable {}
    struct Output: Codable, Sendable {}
    static let kind = "debug.hang"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        while true { usleep(50_000) }
    }
}

/// `debug.crash`: traps, killing the process that runs it. Refused in thread isolation, where
/// that process is the host.
struct CrashHandler: JobHandler {
    struct Payload: Codable, Sendable {}
    struct Output: Codable, Sendable {}
    static let kind = "debug.crash"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard context.isolation != .thread else {
            throw OffloadError(
                .isolationRequired,
                "debug.crash traps the process that runs it; in thread isolation that is the host, so it is refused (use process isolation)")
        }
        fatalError("debug.crash: deliberate trap in job \(context.jobID)")
    }
}
