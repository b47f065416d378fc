import Foundation
public import InMemoryTracing
import Tracing

extension InMemoryTracer {
    /// A tracer whose ids are unique across tracers (two hosts of a test each have one).
    public static func unique(_ name: String) -> InMemoryTracer {
        InMemoryTracer(
            idGenerator: IDGenerator(nextTraceID: { "\(name)-trace-\(UUID().uuidString)" }, nextSpanID: { "\(name)-span-\(UUID().uuidString)" }))
    }

    /// The finished span named `name` whose attribute `offload.job.id` is `job`, waited for.
    public func finished(_ name: String, job: String, timeout: Duration = .seconds(10)) async throws -> FinishedInMemorySpan? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let span = finishedSpans.first(where: {
                $0.operationName == name && $0.attributes["offload.job.id"]?.toSpanAttribute() == .string(job)
            }) {
                return span
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
