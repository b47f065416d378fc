import Foundation
public import Offload

/// What `GET /v1/overview` and the dashboard's stream show: workers, queue depth per priority,
/// totals and latencies.
public struct Overview: Sendable {
    public struct Worker: Sendable {
        public var id: String
        /// `idle`, `busy`, `starting`, `stopping`…
        public var state: String
        public var pid: Int32?
        public var residentBytes: Int?
        /// CPU use since the previous overview, in percent of one core.
        public var cpuPercent: Double?
        public var jobsCompleted: Int
        public var runningKind: String?

        public init(
            id: String, state: String, pid: Int32? = nil, residentBytes: Int? = nil, cpuPercent: Double? = nil,
            jobsCompleted: Int = 0, runningKind: String? = nil
        ) {
            self.id = id
            self.state = state
            self.pid = pid
            self.residentBytes = residentBytes
            self.cpuPercent = cpuPercent
            self.jobsCompleted = jobsCompleted
            self.runningKind = runningKind
        }
    }

    public var workers: [Worker] = []
    public var queued: [Priority: Int] = [:]
    public var running = 0
    public var delayed = 0
    public var submitted = 0
    public var completed = 0
    public var failed = 0
    public var cancelled = 0
    /// Wait (queued → started) and run times; `nil` before any job has run.
    public var waitP50: Duration?
    public var waitP99: Duration?
    public var runP50: Duration?
    public var runP99: Duration?

    public init() {}

    func json(service: String, version: String, mode: String, kinds: [String], now: Date) -> JSONValue {
        func ms(_ duration: Duration?) -> JSONValue { duration.map { .double($0.reportedMilliseconds) } ?? .null }
        let workers: [JSONValue] = workers.map { worker in
            .object([
                ("id", .string(worker.id)), ("state", .string(worker.state)),
                ("pid", worker.pid.map { .int(Int64($0)) } ?? .null),
                ("residentBytes", worker.residentBytes.map { .int(Int64($0)) } ?? .null),
                ("cpuPercent", worker.cpuPercent.map { .double(($0 * 10).rounded() / 10) } ?? .null),
                ("jobsCompleted", .int(Int64(worker.jobsCompleted))),
                ("runningKind", worker.runningKind.map { .string($0) } ?? .null)
            ])
        }
        return .object([
            ("service", .string(service)), ("version", .string(version)), ("mode", .string(mode)),
            ("kinds", .array(kinds.map { .string($0) })),
            ("workers", .array(workers)),
            ("queued", .object(Priority.allCases.map { ($0.name, .int(Int64(queued[$0, default: 0]))) })),
            ("running", .int(Int64(running))), ("delayed", .int(Int64(delayed))),
            (
                "totals",
                .object([
                    ("submitted", .int(Int64(submitted))), ("completed", .int(Int64(completed))),
                    ("failed", .int(Int64(failed))), ("cancelled", .int(Int64(cancelled)))
                ])
            ),
            ("latency", .object([("waitP50Ms", ms(waitP50)), ("waitP99Ms", ms(waitP99)), ("runP50Ms", ms(runP50)), ("runP99Ms", ms(runP99))])),
            ("time", .string(Timestamp(now).iso8601))
        ])
    }
}
