/// Where a job is in its life, the same for a pool in memory and the durable queue.
public enum JobState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Waiting for the jobs it depends on (``Job/dependsOn``) to end.
    case waiting
    /// Ready to run, waiting for a worker.
    case queued
    /// Waiting for its time: a delay, or a retry's back-off.
    case scheduled
    /// An attempt is running (or claimed by a host, about to).
    case running
    /// Ended with a result.
    case completed
    /// Ended for good with an error (its retries spent, or an error not worth retrying).
    case failed
    /// Ended by a cancel (or a shutdown) before it completed.
    case cancelled

    /// Whether the job has ended (completed, failed or cancelled).
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }

    /// The state a job ended in with `status`.
    public init(_ status: JobStatus) {
        self =
            switch status {
            case .completed: .completed
            case .failed: .failed
            case .cancelled: .cancelled
            }
    }

    /// The state named `name` (`queued`, `scheduled`…).
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming an unknown state: a store that
    ///   reads back a state it does not know says so instead of guessing.
    public init(named name: String) throws(OffloadError) {
        guard let state = JobState(rawValue: name) else {
            throw OffloadError(
                .invalidPayload, "unknown job state \(OffloadError.quote(name)) (known: \(Self.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = state
    }
}
