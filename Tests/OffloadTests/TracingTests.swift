import InMemoryTracing
import OffloadTestSupport
import Testing
import Tracing
@testable import Offload

/// A job's spans as a tracer records them: `offload.submit` a child of the submitter's span,
/// `offload.wait` and `offload.run` children of the submit, and the handler — in a thread or a
/// worker process — handed the run span's headers.
@Suite(.timeLimit(.minutes(1))) struct TracingTests {
    private func withPool<T>(_ isolation: Isolation, tracer: InMemoryTracer, _ body: (WorkerPool) async throws -> T) async throws -> T {
        var configuration = PoolConfiguration(isolation: isolation, scaling: .fixed(1), shutdownTimeout: .seconds(5))
        configuration.workerProcess.executable = builtExecutable("offload-test-worker")
        configuration.workerProcess.forwardsOutput = false
        configuration.tracer = tracer
        return try await WorkerPool.withPool(configuration: configuration, registry: .testKinds, body)
    }

    @Test(arguments: [Isolation.thread, .process])
    func aJobsSpansAreChildrenOfItsSubmitterAndItsHandlerSeesItsRun(isolation: Isolation) async throws {
        let tracer = InMemoryTracer.unique("pool")
        try await withPool(isolation, tracer: tracer) { pool in
            let request = tracer.startSpan("request", context: .topLevel, ofKind: .server)
            let handle = try await ServiceContext.$current.withValue(request.context) { try await pool.submit(TraceEcho.self, .init()) }
            let seen = try await handle.value
            request.end()
            let id = handle.id.rawValue
            let submit = try #require(try await tracer.finished("offload.submit", job: id))
            let wait = try #require(try await tracer.finished("offload.wait", job: id))
            let run = try #require(try await tracer.finished("offload.run", job: id))
            #expect(submit.traceID == request.traceID && submit.parentSpanID == request.spanID)
            #expect(submit.kind == .producer && run.kind == .consumer)
            #expect(wait.traceID == request.traceID && wait.parentSpanID == submit.spanID)
            #expect(run.traceID == request.traceID && run.parentSpanID == submit.spanID)
            #expect(run.attributes["offload.job.outcome"]?.toSpanAttribute() == .string("completed"))
            // The handler, in a thread or across the process boundary, was handed the run's span.
            #expect(seen[InMemoryTracer.traceIDKey] == request.traceID, "\(seen)")
            #expect(seen[InMemoryTracer.spanIDKey] == run.spanID, "\(seen)")

            // A failed attempt's span says so.
            let failing = try await pool.submit(Job(kind: "debug.fail", payload: .json(["message": "on purpose"])))
            _ = await failing.outcome
            let failed = try #require(try await tracer.finished("offload.run", job: failing.id.rawValue))
            #expect(failed.status?.code == .error)
            #expect(failed.attributes["offload.job.outcome"]?.toSpanAttribute() == .string("failed"))
        }
    }

    @Test func aJobThatCarriesATraceKeepsItAndNothingIsTracedWithoutATracer() async throws {
        let tracer = InMemoryTracer.unique("pool")
        try await withPool(.thread, tracer: tracer) { pool in
            var job = Job(TraceEcho.self, .init())
            job.trace = try TraceHeaders([InMemoryTracer.traceIDKey: "from-a-file", InMemoryTracer.spanIDKey: "its-span"])
            let seen = try await pool.submit(job).value
            let run = try #require(try await tracer.finished("offload.run", job: job.id.rawValue))
            #expect(run.traceID == "from-a-file" && run.parentSpanID == "its-span")
            #expect(seen["in-memory-trace-id"]?.stringValue == "from-a-file")
            #expect(tracer.finishedSpans.allSatisfy { $0.operationName != "offload.submit" })
        }
        // No tracer (none bootstrapped): no headers at all.
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: .testKinds) { pool in
            let seen = try await pool.submit(TraceEcho.self, .init()).value
            #expect(seen.isEmpty)
        }
        #expect(throws: OffloadError.self) { try TraceHeaders(["Trace Parent": "x"]) }
        #expect(throws: OffloadError.self) { try TraceHeaders(["traceparent": String(repeating: "a", count: 2_000)]) }
        #expect(throws: OffloadError.self) { try TraceHeaders(Dictionary(uniqueKeysWithValues: (0..<9).map { ("h\($0)", "v") })) }
    }
}
