import InMemoryTracing
import Offload
import OffloadTestSupport
import Testing
import Tracing
@testable import OffloadPostgres

extension PostgresTests {
    /// One trace across two hosts: a job submitted by one (in its submitter's span) and run by
    /// another, in a worker process, through PostgreSQL. Each host has its own tracer, as two
    /// machines would; the links are the ids the job carried.
    @Suite struct TraceThroughQueueTests {
        @Test func aJobRunOnAnotherHostContinuesItsSubmittersTrace() async throws {
            let schema = TestDatabase.schema()
            let submitting = InMemoryTracer.unique("a")
            let running = InMemoryTracer.unique("b")
            try await withQueue(schema: schema, configure: { $0.tracer = submitting }) { submitter in
                try await withQueue(schema: schema) { hostQueue in
                    try await withServer(
                        hostQueue, workers: 1, registry: .testKinds,
                        configurePool: { pool in
                            pool.isolation = .process
                            pool.workerProcess.executable = builtExecutable("offload-test-worker")
                            pool.workerProcess.forwardsOutput = false
                            pool.tracer = running
                        }
                    ) { _ in
                        let request = submitting.startSpan("request", context: .topLevel, ofKind: .server)
                        let id = try await ServiceContext.$current.withValue(request.context) {
                            try await submitter.submit(Job(TraceEcho.self, .init()))
                        }
                        request.end()
                        let done = try await submitter.finished(id, timeout: .seconds(30))
                        #expect(done.state == .completed)
                        let seen = try done.value(as: [String: String].self)

                        let submit = try #require(try await submitting.finished("offload.submit", job: id.rawValue))
                        #expect(submit.traceID == request.traceID && submit.parentSpanID == request.spanID)
                        // The other host's spans: children of the submit, in the same trace.
                        let wait = try #require(try await running.finished("offload.wait", job: id.rawValue))
                        let run = try #require(try await running.finished("offload.run", job: id.rawValue))
                        #expect(wait.traceID == request.traceID && wait.parentSpanID == submit.spanID)
                        #expect(run.traceID == request.traceID && run.parentSpanID == submit.spanID)
                        // And its worker process was handed the run's span.
                        #expect(seen[InMemoryTracer.traceIDKey] == request.traceID, "\(seen)")
                        #expect(seen[InMemoryTracer.spanIDKey] == run.spanID, "\(seen)")
                        // The submitting host ran nothing of it.
                        #expect(submitting.finishedSpans.allSatisfy { $0.operationName != "offload.run" })
                    }
                }
            }
        }
    }
}
