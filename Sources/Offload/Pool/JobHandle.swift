/// A submitted job: await its typed value or its outcome, watch its progress, or cancel it.
///
/// A typed submission gives a handle whose ``value`` has the handler's output type:
///
/// ```swift
/// let handle = try await pool.submit(Resize.self, Resize.Payload(path: "a.png", width: 600), priority: .high)
/// let output: Resize.Output = try await handle.value
/// ```
///
/// A job submitted as a ``Job`` (as job files are) gives a handle whose value is the JSON of
/// the output.
public struct JobHandle<Output: Decodable & Sendable>: Sendable {
    let ticket: JobTicket

    init(_ ticket: JobTicket) { self.ticket = ticket }

    /// The job's id.
    public var id: JobID { ticket.id }

    /// The job's output; waits until the job ends.
    /// - Throws: the job's error when it failed or was cancelled
    ///   (``OffloadError/Code/resultTypeMismatch`` when its output is not an `Output`).
    public var value: Output {
        get async throws(OffloadError) { try await ticket.outcome.value(as: Output.self) }
    }

    /// The output decoded as another type (the JSON of the output read as `type`).
    public func value<T: Decodable>(as type: T.Type) async throws(OffloadError) -> T {
        try await ticket.outcome.value(as: type)
    }

    /// How the job ended; waits until it does.
    public var outcome: JobOutcome {
        get async { await ticket.outcome }
    }

    /// The outcome if the job has ended, without waiting.
    public var currentOutcome: JobOutcome? { ticket.currentOutcome }

    /// The last progress the handler reported.
    public var progress: JobProgress? { ticket.progress }

    /// Cancels the job: a queued job ends at once, a running one is asked to stop.
    /// - Returns: `false` when the job had already ended.
    @discardableResult
    public func cancel() -> Bool { ticket.cancel() }
}
