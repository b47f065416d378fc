public import Foundation
public import Offload
import OffloadJobFiles

/// A job as the API shows it: `{"id","kind","priority","state","attempts","progress","createdAt",
/// "startedAt","finishedAt","payload","result","error":{"code","message"}}`, times in ISO 8601.
public struct JobView: Sendable {
    /// Where a job is in its life.
    public enum State: String, Sendable, CaseIterable {
        case queued, scheduled, running, completed, failed, cancelled

        public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }
    }

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

    public init(id: JobID, kind: String, priority: Priority, state: State, attempts: Int = 0, progress: Double? = nil,
                createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil, payload: JSONValue,
                result: JSONValue? = nil, error: OffloadError? = nil) {
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

    /// What a summary costs a stream's buffer, about: its fields and their names.
    public static let summaryBytes = 512

    private func json(summary: Bool) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(id.rawValue)),
            ("kind", .string(kind)),
            ("priority", .string(priority.name)),
            ("state", .string(state.rawValue)),
            ("attempts", .int(Int64(attempts))),
            ("progress", progress.map { .double($0) } ?? .null),
            ("createdAt", .string(Timestamp.text(createdAt))),
            ("startedAt", startedAt.map { .string(Timestamp.text($0)) } ?? .null),
            ("finishedAt", finishedAt.map { .string(Timestamp.text($0)) } ?? .null),
        ]
        if !summary { members += [("payload", payload), ("result", result ?? .null)] }
        members.append(("error", error.map(ResultLine.errorJSON) ?? .null))
        return .object(members)
    }
}

/// One event of a job, as `GET /v1/jobs/{id}/events` streams it: `queued`, `started`,
/// `progress`, `retrying`, `preempted` or `ended`.
public struct JobEventView: Sendable {
    public enum Kind: String, Sendable {
        case queued, started, progress, retrying, preempted, ended
    }

    /// 1, 2, 3… within the job: the stream's event id.
    public var sequence: Int
    public var kind: Kind
    public var at: Date
    public var attempt: Int?
    public var progress: Double?
    public var message: String?
    /// The job's state after the event (`ended`: how it ended).
    public var state: JobView.State
    public var error: OffloadError?

    public init(sequence: Int, kind: Kind, at: Date, attempt: Int? = nil, progress: Double? = nil, message: String? = nil,
                state: JobView.State, error: OffloadError? = nil) {
        self.sequence = sequence
        self.kind = kind
        self.at = at
        self.attempt = attempt
        self.progress = progress
        self.message = message
        self.state = state
        self.error = error
    }

    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(kind.rawValue)), ("at", .string(Timestamp.text(at))), ("state", .string(state.rawValue)),
        ]
        if let attempt { members.append(("attempt", .int(Int64(attempt)))) }
        if let progress { members.append(("progress", .double(progress))) }
        if let message { members.append(("message", .string(message))) }
        if let error { members.append(("error", ResultLine.errorJSON(error))) }
        return .object(members)
    }
}

/// ISO 8601 times with milliseconds, in UTC.
enum Timestamp {
    static func text(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
