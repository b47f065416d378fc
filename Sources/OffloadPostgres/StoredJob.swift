public import Foundation
public import Offload

/// The queue's name of a state in its `job_state` column: `available` for a job ready to run,
/// the state's own name for the others. The one mapping between the two.
enum StateColumn {
    static func name(_ state: JobState) -> String { state == .queued ? "available" : state.rawValue }

    /// - Throws: ``OffloadError/Code/invalidPayload`` naming a value the queue should not hold.
    static func state(_ name: String) throws(OffloadError) -> JobState {
        name == "available" ? .queued : try JobState(named: name)
    }
}

/// A durable job as the queue holds it.
public struct StoredJob: Sendable {
    public var id: JobID
    public var kind: String
    public var priority: Priority
    public var state: JobState
    /// Attempts made (a running job's current one included).
    public var attempt: Int
    public var maxAttempts: Int
    public var payload: JSONValue
    /// The output of a completed job.
    public var result: JSONValue?
    /// Why the job failed or was cancelled (or why its last attempt failed, while it waits to retry).
    public var error: OffloadError?
    public var uniqueKey: String?
    /// The host holding its lease, while it runs.
    public var leaseOwner: String?
    /// Whether someone asked to cancel it while it ran.
    public var cancelRequested: Bool
    public var createdAt: Date
    /// When it may run (its next attempt, while scheduled).
    public var runAt: Date
    /// When its latest attempt started.
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The fraction done the running attempt last reported.
    public var progress: Double?
    /// The job's tags.
    public var tags: [String] = []
    /// The jobs it runs after, and what it does when one fails.
    public var dependsOn: [JobID] = []
    public var onDependencyFailure: DependencyFailurePolicy = .cancel

    /// The output as `type`, or the job's error when it did not complete.
    public func value<T: Decodable>(as type: T.Type) throws(OffloadError) -> T {
        guard state == .completed, let result else {
            throw error ?? OffloadError(.handlerFailed, "job \(id) is \(state), with no result")
        }
        return try JobResult.json(result).decode(type)
    }
}

/// One entry of a durable job's history, as the queue keeps it.
public struct StoredJobEvent: Sendable, Hashable {
    /// A step's name in the ``JobEvent`` vocabulary (`queued`, `started`, `retryScheduled`,
    /// `completed`, `rescued`, `leaseLost`…).
    public var type: String
    public var at: Date
    public var attempt: Int?
    public var host: String?
    public var message: String?
    /// The code of the error the step carries (`failed`, `cancelled`, `retryScheduled`).
    public var errorCode: String?
    /// The fraction done a `progress` step reports.
    public var progress: Double?
    /// When a `scheduled` job or a `retryScheduled` retry is due.
    public var runAt: Date?

    /// The entry as a ``JobEvent`` of job `job`, numbered `sequence`.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming a type the vocabulary does not have.
    public func event(of job: JobID, sequence: Int? = nil) throws(OffloadError) -> JobEvent {
        var error = errorCode.map { OffloadError(OffloadError.Code(rawValue: $0), message ?? "") }
        // Written before the code had a column of its own (migration 7): "code: message".
        if error == nil, ["failed", "cancelled", "retryScheduled"].contains(type) {
            let parts = (message ?? "").split(separator: ":", maxSplits: 1)
            error =
                parts.count == 2 && !parts[0].contains(" ")
                ? OffloadError(OffloadError.Code(rawValue: String(parts[0])), String(parts[1].dropFirst()))
                : OffloadError(type == "cancelled" ? .cancelled : .handlerFailed, message ?? "")
        }
        let step = try JobEvent.Step(
            name: type, message: error == nil ? message : nil, fraction: progress,
            time: runAt.map { Timestamp(secondsSince1970: $0.timeIntervalSince1970) }, error: error)
        return JobEvent(
            job: job, at: Timestamp(secondsSince1970: at.timeIntervalSince1970), step: step, attempt: attempt, host: host,
            sequence: sequence)
    }
}
