/// What a cancel request found, in a pool's store or on the durable queue.
public enum CancelAnswer: String, Sendable, Hashable {
    /// The job was queued and is cancelled.
    case cancelled
    /// The job is running and was asked to stop (on the durable queue, its host learns of it
    /// within a heartbeat).
    case requested
    /// The job had already ended.
    case alreadyFinished
    /// No such job.
    case notFound
}
