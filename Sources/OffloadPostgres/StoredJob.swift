public import Foundation
public import Offload

/// Where a durable job is in its life.
public enum DurableJobState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Ready to be claimed.
    case available
    /// Waiting for its run-at time (a delay, or a retry's back-off).
    case scheduled
    /// Claimed by a host, under a lease.
    case running
    case completed
    /// Failed for good (its attempts spent, or an error not worth retrying).
    case failed
    case cancelled

    /// Whether the job has ended (completed, failed or cancelled).
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A durable job as the queue holds it.
public struct StoredJob: Sendable {
    public var id: JobID
    public var kind: String
    public var priority: Priority
    public var state: DurableJobState
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

    /// The output as `type`, or the job's error when it did not complete.
    public func value<T: Decodable>(as type: T.Type) throws(OffloadError) -> T {
        guard state == .completed, let result else {
            throw error ?? OffloadError(.handlerFailed, "job \(id) is \(state), with no result")
        }
        return try JobResult.json(result).decode(type)
    }
}

/// One entry of a durable job's history.
public struct StoredJobEvent: Sendable, Hashable {
    /// `queued`, `started`, `completed`, `failed`, `cancelled`, `retryScheduled`, `released`,
    /// `rescued`, `cancelRequested`, `leaseLost`, `retried`.
    public var type: String
    public var at: Date
    public var attempt: Int?
    public var host: String?
    public var message: String?
}
