/// Runs the jobs of one kind. The handler's type ties the kind's name, its payload and its
/// output together, so that a typed submission can only carry the right payload and its handle
/// gives the right type back:
///
/// ```swift
/// struct Resize: JobHandler {
///     struct Payload: Codable, Sendable { var path: String; var width: Int }
///     struct Output: Codable, Sendable { var written: String }
///     static let kind = "resize"
///
///     func run(_ payload: Payload, context: JobContext) async throws -> Output {
///         try context.checkCancellation()
///         context.reportProgress(0.5)
///         return Output(written: "\(payload.path)@\(payload.width)")
///     }
/// }
/// ```
///
/// Register it (``HandlerRegistry/register(_:)``), then submit typed jobs with
/// ``WorkerPool/submit(_:_:id:priority:timeout:maxRetries:retryPolicy:delay:requiredCapabilities:)``.
/// Payloads from job files are decoded strictly: a key the payload type does not read fails the
/// job `invalidPayload`. Throw ``OffloadError`` to choose the code; any other error fails the job
/// `handlerFailed` (retried while the job has retries left); throw `CancellationError` when the
/// job stops because ``JobContext/isCancelled`` said so.
public protocol JobHandler: Sendable {
    /// The handler's input; it crosses to worker processes as JSON.
    associatedtype Payload: Codable & Sendable
    /// The handler's output; it crosses back as JSON.
    associatedtype Output: Codable & Sendable
    /// The kind name jobs of this handler carry (`"image"`, `"resize"`).
    static var kind: String { get }
    /// Runs one attempt of a job.
    func run(_ payload: Payload, context: JobContext) async throws -> Output
}

/// A handler with its types erased, as the registry keeps it.
struct AnyJobHandler: Sendable {
    let kind: String
    private let body: @Sendable (JobPayload, JobContext) async throws -> JobResult
    /// Decodes a payload as the handler's type, and throws what decoding it for a run would.
    let check: @Sendable (JobPayload) throws(OffloadError) -> Void

    init<H: JobHandler>(_ handler: H) {
        kind = H.kind
        check = { payload throws(OffloadError) in _ = try payload.decode(H.Payload.self) }
        body = { payload, context in
            let typed = try payload.decode(H.Payload.self)
            return .value(try await handler.run(typed, context: context))
        }
    }

    func run(_ payload: JobPayload, context: JobContext) async throws -> JobResult {
        try await body(payload, context)
    }
}
