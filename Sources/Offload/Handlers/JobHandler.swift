/// Runs the jobs of one kind.
///
/// ```swift
/// struct Resize: JobHandler {
///     struct Payload: Codable, Sendable { var path: String; var width: Int }
///     struct Output: Codable, Sendable { var written: String }
///     var kind: String { "resize" }
///     func run(_ payload: Payload, context: JobContext) async throws -> Output {
///         try context.checkCancellation()
///         context.reportProgress(0.5)
///         return Output(written: payload.path)
///     }
/// }
/// var registry = HandlerRegistry()
/// try registry.register(Resize())
/// ```
///
/// Payloads from job files are decoded strictly: a key the payload type does not read fails the
/// job `invalidPayload`. Throw ``OffloadError`` to choose the code; any other error fails the job
/// `handlerFailed` (retried while the job has retries left).
public protocol JobHandler: Sendable {
    associatedtype Payload: Decodable & Sendable
    associatedtype Output: Encodable & Sendable
    /// The kind name the handler runs (`"image"`, `"debug.sleep"`…).
    var kind: String { get }
    /// Runs one attempt of a job.
    func run(_ payload: Payload, context: JobContext) async throws -> Output
}

/// A handler with its types erased, as the registry keeps it.
struct AnyJobHandler: Sendable {
    let kind: String
    private let body: @Sendable (JobPayload, JobContext) async throws -> JobResult

    init<H: JobHandler>(_ handler: H) {
        kind = handler.kind
        body = { payload, context in
            let typed = try payload.decode(H.Payload.self)
            return .value(try await handler.run(typed, context: context))
        }
    }

    func run(_ payload: JobPayload, context: JobContext) async throws -> JobResult {
        try await body(payload, context)
    }
}
