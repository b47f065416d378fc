public import Foundation
public import Offload

/// A job as the API shows it: `{"id","kind","priority","state","attempts","progress","createdAt",
/// "startedAt","finishedAt","tags","payload","result","error":{"code","message"}}`, times in ISO 8601.
public struct JobView: Sendable {
    /// Where a job is in its life.
    public typealias State = JobState

    public var id: JobID
    public var kind: String
    public var priority: Priority
    public var state: State
    /// Attempts started so far.
    public var attempts: Int
    /// How far the running attempt has come, 0…1, when its handler says.
    public var progress: Double?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var payload: JSONValue
    public var result: JSONValue?
    public var error: OffloadError?
    /// The job's tags (``Offload/Job/tags``).
    public var tags: [String] = []
    /// The jobs it runs after (``Offload/Job/dependsOn``), and what it does when one fails.
    public var dependsOn: [JobID] = []
    public var onDependencyFailure: DependencyFailurePolicy = .cancel
    /// In the view of one job: each job it depends on, and the jobs that depend on it (at most
    /// ``maxDependents``), as the store has them now; `nil` in lists.
    public var dependencies: [JobLink]?
    public var dependents: [JobLink]?

    /// The most dependents one job's view lists.
    public static let maxDependents = 1_000

    public init(
        id: JobID, kind: String, priority: Priority, state: State, attempts: Int = 0, progress: Double? = nil,
        createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil, payload: JSONValue,
        result: JSONValue? = nil, error: OffloadError? = nil
    ) {
        self.id = id
        self.kind = kind
        self.priority = priority
        self.state = state
        self.attempts = attempts
        self.progress = progress
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.payload = payload
        self.result = result
        self.error = error
    }

    /// The job as `{"id",…}` with its payload and result.
    public var json: JSONValue { json(summary: false) }

    /// The job without its payload and result (the keys left out, not `null`): what the
    /// dashboard's stream sends on each change.
    public var summaryJSON: JSONValue { json(summary: true) }

    /// What a summary costs a stream's buffer, at most about: its fields, their names and its tags.
    public static let summaryBytes = 512 + Job.maxTags * (Job.maxTagBytes + 3)

    private func json(summary: Bool) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(id.rawValue)),
            ("kind", .string(kind)),
            ("priority", .string(priority.name)),
            ("state", .string(state.rawValue)),
            ("attempts", .int(Int64(attempts))),
            ("progress", progress.map { .double($0) } ?? .null),
            ("createdAt", .string(Timestamp(createdAt).iso8601)),
            ("startedAt", startedAt.map { .string(Timestamp($0).iso8601) } ?? .null),
            ("finishedAt", finishedAt.map { .string(Timestamp($0).iso8601) } ?? .null),
            ("tags", .array(tags.map { .string($0) }))
        ]
        if !summary {
            members += [
                ("dependsOn", .array(dependsOn.map { .string($0.rawValue) })),
                ("onDependencyFailure", .string(onDependencyFailure.rawValue)),
                ("payload", payload), ("result", result ?? .null)
            ]
            if let dependencies { members.append(("dependencies", .array(dependencies.map(\.json)))) }
            if let dependents { members.append(("dependents", .array(dependents.map(\.json)))) }
        }
        members.append(("error", error?.json ?? .null))
        return .object(members)
    }

    /// The job after `event`: its state, attempts, progress, times and error as the event says.
    public mutating func apply(_ event: JobEvent) {
        if let state = event.state { self.state = state }
        switch event.step {
        case .started:
            if let attempt = event.attempt { attempts = attempt }
            progress = nil
            if startedAt == nil { startedAt = event.at.date }
        case .progress(let fraction, _):
            progress = fraction
        case .retryScheduled(_, let error):
            self.error = error
        case .completed, .failed, .cancelled:
            if let attempt = event.attempt { attempts = attempt }
            error = event.error
            finishedAt = event.at.date
            if state == .completed { progress = 1 }
        default:
            break
        }
    }
}

/// Another job as a job's view names it: a dependency or a dependent, with its kind and state
/// when the store still has it (`nil` once it is forgotten).
public struct JobLink: Sendable, Hashable {
    public var id: JobID
    public var kind: String?
    public var state: JobState?

    public init(id: JobID, kind: String? = nil, state: JobState? = nil) {
        self.id = id
        self.kind = kind
        self.state = state
    }

    /// `{"id","kind","state"}`.
    public var json: JSONValue {
        .object([("id", .string(id.rawValue)), ("kind", kind.map { .string($0) } ?? .null), ("state", state.map { .string($0.rawValue) } ?? .null)])
    }
}
