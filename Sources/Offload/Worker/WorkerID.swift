/// The name of a worker in a pool (`w1`, `w2`, …).
public struct WorkerID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// The life of a worker: `initializing → idle ⇄ busy → terminated`, or `error` when it got stuck or failed.
public enum WorkerState: String, Sendable, Hashable, Codable {
    case initializing
    case idle
    case busy
    case error
    case terminated
}

/// Where a pool's workers run.
public struct Isolation: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    private init(name: String) { self.name = name }

    /// Workers are threads of the host: cheapest, but a job that traps kills the host and a job
    /// that never yields can only be abandoned, not stopped.
    public static let thread = Isolation(name: "thread")

    /// Each worker is a child process that talks to the host only through frames on pipes: a job
    /// that traps, hangs or eats memory takes down its worker, never the host. See
    /// ``WorkerProcessOptions`` and ``WorkerProcess/runIfWorker(registry:logger:)``. Making such a
    /// pool sets the host to ignore `SIGPIPE`, so that writing to a worker that just died fails
    /// with `EPIPE` instead of ending the host.
    public static let process = Isolation(name: "process")

    public var description: String { name }

    /// The isolation named `name`, if this build supports it.
    public init?(named name: String) {
        guard let match = [Isolation.thread, .process].first(where: { $0.name == name }) else { return nil }
        self = match
    }
}
