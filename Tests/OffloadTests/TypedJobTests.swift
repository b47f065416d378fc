#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// Typed jobs as a Swift program uses them, in both isolations: the handle's value has the
/// handler's output type, a payload round-trips through a worker process exactly as it is handed
/// over in a thread, and the mistakes a program can make are typed errors.
@Suite(.timeLimit(.minutes(1))) struct TypedJobTests {
    static let isolations: [Isolation] = [.thread, .process]

    private func withPool<T>(
        _ isolation: Isolation, registry: HandlerRegistry = .testKinds,
        configure: (inout PoolConfiguration) -> Void = { _ in },
        _ body: (WorkerPool) async throws -> T
    ) async throws -> T {
        var configuration = PoolConfiguration(isolation: isolation, scaling: .fixed(1), shutdownTimeout: .seconds(5))
        configuration.workerProcess.executable = builtExecutable("offload-test-worker")
        configuration.workerProcess.forwardsOutput = false
        configure(&configuration)
        return try await WorkerPool.withPool(configuration: configuration, registry: registry, body)
    }

    @Test(arguments: isolations)
    func aTypedJobsValueHasItsHandlersOutputType(isolation: Isolation) async throws {
        try await withPool(isolation) { pool in
            let handle = try await pool.submit(Tally.self, Tally.Payload(values: [3, 9, 4], scale: 0.5, note: "n"), priority: .high)
            let output: Tally.Output = try await handle.value
            #expect(output.largest == 9 && output.scaled == [1.5, 4.5, 2] && output.note == "n")
            // The same job, untyped: its value is the output's JSON.
            let json = try await pool.submit(Job(kind: Tally.kind, payload: .json(["values": [1, 2], "scale": 2]))).value
            #expect(json["scaled"] == [2.0, 4.0])
        }
    }

    /// What JSON cannot hold as a number still crosses a worker process: `UInt64.max`, NaN, ±∞.
    @Test(arguments: isolations)
    func aPayloadRoundTripsAsItIsHandedOverInAThread(isolation: Isolation) async throws {
        try await withPool(isolation) { pool in
            for scale in [Double.nan, .infinity, -.infinity, 1e-300] {
                let output = try await pool.submit(Tally.self, Tally.Payload(values: [.max, 0], scale: scale)).value
                #expect(output.largest == .max)
                #expect(output.scale.isNaN == scale.isNaN && (scale.isNaN || output.scale == scale))
            }
        }
    }

    @Test(arguments: isolations)
    func readingAnOutputAsTheWrongTypeIsAResultTypeMismatch(isolation: Isolation) async throws {
        try await withPool(isolation) { pool in
            let handle = try await pool.submit(Tally.self, Tally.Payload(values: [1], scale: 1))
            do throws(OffloadError) {
                _ = try await handle.value(as: Tally.Payload.self)
                Issue.record("an output was read as a payload")
            } catch {
                #expect(error.code == .resultTypeMismatch, "\(error)")
            }
            #expect(await handle.outcome.status == .completed)
        }
    }

    /// A newer sender's extra field: refused the same way in both isolations, or ignored by
    /// choice (a rolling deploy).
    @Test(arguments: isolations)
    func unknownKeysOfSwiftPayloadsAreRefusedOrIgnoredByChoice(isolation: Isolation) async throws {
        let newer = Job(kind: Tally.kind, payload: .value(TallyPayloadV2(values: [5], scale: 2, priorityHint: 1)))
        let strict = try await withPool(isolation) { pool in try await pool.process(newer) }
        #expect(strict.status == .failed && strict.error?.code == .invalidPayload)
        #expect(
            strict.error?.message == "payload: unknown key 'priorityHint' (did you mean 'note'?)"
                || strict.error?.message.hasPrefix("payload: unknown key 'priorityHint'") == true,
            "\(String(describing: strict.error))")
        let lenient = try await withPool(isolation, configure: { $0.ignoresUnknownPayloadKeys = true }) { pool in
            try await pool.process(newer)
        }
        #expect(try lenient.value(as: Tally.Output.self).scaled == [10])
        // A job file's JSON stays strict whatever the pool says.
        let fromFile = try await withPool(isolation, configure: { $0.ignoresUnknownPayloadKeys = true }) { pool in
            try await pool.process(Job(kind: Tally.kind, payload: .json(["values": [1], "scale": 1, "priorityHint": 1])))
        }
        #expect(fromFile.error?.code == .invalidPayload)
    }

    @Test func aWorkerWithoutThePoolsKindsFailsToStartWithTheReason() async throws {
        // `offload-worker` runs the diagnostic kinds only; this pool also has Tally.
        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(1), shutdownTimeout: .seconds(5))
        configuration.workerProcess.executable = builtExecutable("offload-worker")
        configuration.workerProcess.forwardsOutput = false
        let outcome = try await WorkerPool.withPool(configuration: configuration, registry: .testKinds) { pool in
            try await pool.process(Job(kind: "debug.echo"))
        }
        #expect(outcome.error?.code == .workerStartFailed)
        #expect(outcome.error?.message.contains("has no handler for test.tally") == true, "\(String(describing: outcome.error))")
        #expect(outcome.error?.message.contains("WorkerProcess.runIfWorker(registry:)") == true)
    }

    @Test func jsonLiteralsAndTheirText() {
        let value: JSONValue = ["title": "Hello", "sizes": [1200, 630], "ratio": 1.5, "draft": false, "note": .null]
        #expect(value.description == #"{"title":"Hello","sizes":[1200,630],"ratio":1.5,"draft":false,"note":null}"#)
        #expect("\(value["sizes"]!)" == "[1200,630]")
    }

    @Test func generatedIdsAreUUIDv7OrderedAndUnique() {
        let ids = (0..<10_000).map { _ in JobID.generate().rawValue }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(10) {
            let parts = id.split(separator: "-")
            #expect(parts.map(\.count) == [8, 4, 4, 4, 12], "\(id)")
            #expect(parts[2].first == "7", "version 7: \(id)")
            #expect("89ab".contains(parts[3].first!), "RFC variant: \(id)")
        }
        // The first 48 bits are the time in milliseconds since 1970.
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let now = Int64(clock.tv_sec) * 1_000 + Int64(clock.tv_nsec) / 1_000_000
        let stamp = Int64(String(ids.last!.filter { $0 != "-" }.prefix(12)), radix: 16)!
        #expect(abs(now - stamp) < 5_000, "\(ids.last!) is not of now (\(now) ms)")
        // Milliseconds first: ids made later sort later.
        let earlier = JobID.generate().rawValue
        usleep(2_000)
        #expect(JobID.generate().rawValue > earlier)
    }
}
