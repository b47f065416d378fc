public import Offload

/// A typed job kind for tests: sums and scales numbers, and hands back values JSON cannot hold
/// as numbers (`UInt64.max`, `Double.nan`), so that tests can check they cross a worker process
/// as they are handed over in a thread.
public struct Tally: JobHandler {
    public struct Payload: Codable, Sendable, Equatable {
        public var values: [UInt64]
        public var scale: Double
        public var note: String?
        public init(values: [UInt64], scale: Double, note: String? = nil) {
            self.values = values
            self.scale = scale
            self.note = note
        }
    }

    public struct Output: Codable, Sendable {
        public var largest: UInt64
        public var scaled: [Double]
        public var scale: Double
        public var note: String?
    }

    public static let kind = "test.tally"

    public init() {}

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        try context.checkCancellation()
        return Output(
            largest: payload.values.max() ?? 0, scaled: payload.values.map { Double($0) * payload.scale },
            scale: payload.scale, note: payload.note)
    }
}

/// The payload a newer version of ``Tally`` would send: one field more.
public struct TallyPayloadV2: Codable, Sendable {
    public var values: [UInt64]
    public var scale: Double
    public var priorityHint: Int
    public init(values: [UInt64], scale: Double, priorityHint: Int) {
        self.values = values
        self.scale = scale
        self.priorityHint = priorityHint
    }
}

extension HandlerRegistry {
    /// The diagnostic kinds, ``Tally`` and ``TraceEcho``: what `offload-test-worker` runs.
    public static var testKinds: HandlerRegistry {
        var registry = HandlerRegistry.diagnostics
        try! registry.register(Tally())
        try! registry.register(TraceEcho())
        return registry
    }
}
