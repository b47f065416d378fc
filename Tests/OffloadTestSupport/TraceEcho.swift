public import Offload

/// Returns the trace headers its attempt was handed (`JobContext.trace`): what a handler in a
/// thread or a worker process sees of the trace it runs in.
public struct TraceEcho: JobHandler {
    public struct Payload: Codable, Sendable {
        public init() {}
    }

    public static let kind = "test.traceEcho"

    public init() {}

    public func run(_ payload: Payload, context: JobContext) async throws -> [String: String] {
        context.trace.values
    }
}
