import Foundation
import InMemoryTracing
import Logging
import OffloadServer
import OffloadTestSupport
import ServiceLifecycle
import Synchronization
import Testing
import Tracing
@testable import Offload

/// A request's span, a child of the caller's trace, is the parent of the job it submits: one
/// trace from the caller through the service to the job's run.
@Suite struct RequestTracingTests {
    @Test func aRequestContinuesItsCallersTraceAndItsJobContinuesTheRequest() async throws {
        let folder = temporaryFolder("tracing")
        defer { removeTree(folder) }
        let tracer = InMemoryTracer.unique("service")
        var poolConfiguration = PoolConfiguration(scaling: .fixed(1), shutdownTimeout: .seconds(5))
        poolConfiguration.tracer = tracer
        let pool = try WorkerPool(configuration: poolConfiguration, registry: .testKinds)
        let store = JobStore(backend: try MemoryBackend(pool: pool, outputFolder: folder), pool: pool)
        var configuration = ServiceConfiguration(port: 0, token: "tracing-token")
        configuration.tracer = tracer
        let service = OffloadService(store: store, configuration: configuration, registry: pool.registry)
        let port = Mutex<Int?>(nil)
        var logger = Logger(label: "offload.test")
        logger.logLevel = .error
        let application = service.application(logger: logger) { listening in port.withLock { $0 = listening } }
        let group = ServiceGroup(services: [pool, store, application], logger: logger)
        let running = Task { try await group.run() }
        defer { running.cancel() }
        while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        let listening = try #require(port.withLock { $0 })

        // The caller's trace, as its tracer propagates it.
        let reply = try await HTTPClient.request(
            "POST", port: listening, "/v1/jobs?wait=10000",
            headers: [
                "Authorization": "Bearer tracing-token", "Content-Type": "application/json",
                InMemoryTracer.traceIDKey: "caller-trace", InMemoryTracer.spanIDKey: "caller-span"
            ], body: Array(#"{"kind":"test.traceEcho"}"#.utf8))
        #expect(reply.status == 201, "\(reply.text)")
        let id = try #require(reply.json?["ids"]?[0]?.stringValue)
        let seen = reply.json?["jobs"]?[0]?["result"]

        let deadline = ContinuousClock.now + .seconds(10)
        while !tracer.finishedSpans.contains(where: { $0.operationName == "POST /v1/jobs" }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let request = try #require(tracer.finishedSpans.first { $0.operationName == "POST /v1/jobs" })
        #expect(request.kind == .server)
        #expect(request.traceID == "caller-trace" && request.parentSpanID == "caller-span")
        #expect(request.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(201))
        let submit = try #require(try await tracer.finished("offload.submit", job: id))
        let run = try #require(try await tracer.finished("offload.run", job: id))
        #expect(submit.traceID == "caller-trace" && submit.parentSpanID == request.spanID)
        #expect(run.traceID == "caller-trace" && run.parentSpanID == submit.spanID)
        #expect(seen?[InMemoryTracer.spanIDKey]?.stringValue == run.spanID)

        await group.triggerGracefulShutdown()
        try await running.value
    }
}
