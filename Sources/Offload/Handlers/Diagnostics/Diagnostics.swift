/// The diagnostic kinds, for load and fault testing in every isolation mode.
enum Diagnostics {
    static let handlers: [AnyJobHandler] = [
        AnyJobHandler(EchoHandler()),
        AnyJobHandler(SleepHandler()),
        AnyJobHandler(SpinHandler()),
        AnyJobHandler(FailHandler()),
        AnyJobHandler(SnoozeHandler()),
        AnyJobHandler(HangHandler()),
        AnyJobHandler(AllocHandler()),
        AnyJobHandler(CrashHandler())
    ]

    /// Checks a duration in milliseconds given in a payload.
    static func milliseconds(_ value: Double, field: String, kind: String) throws(OffloadError) -> Duration {
        guard value.isFinite, value >= 0 else {
            throw OffloadError(.invalidPayload, "payload.\(field) must be a non-negative number of milliseconds (\(kind))")
        }
        guard value <= 86_400_000 else { throw OffloadError(.invalidPayload, "payload.\(field) must be at most one day (\(kind))") }
        return .microseconds(Int64(value * 1_000))
    }
}

/// `debug.echo`: returns its payload unchanged.
struct EchoHandler: JobHandler {
    static let kind = "debug.echo"
    func run(_ payload: JSONValue, context: JobContext) async throws -> JSONValue { payload }
}

/// `debug.sleep {ms}`: waits without using the CPU, reporting progress; stops when cancelled.
struct SleepHandler: JobHandler {
    struct Payload: Codable, Sendable { var ms: Double }
    struct Output: Codable, Sendable { var sleptMs: Double }
    static let kind = "debug.sleep"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let total = try Diagnostics.milliseconds(payload.ms, field: "ms", kind: Self.kind)
        let start = ContinuousClock.now
        let steps = total >= .milliseconds(100) ? 10 : 1
        for step in 1...steps {
            try await Task.sleep(until: start + total * step / steps, clock: .continuous)
            if steps > 1 { context.reportProgress(Double(step) / Double(steps)) }
        }
        return Output(sleptMs: (ContinuousClock.now - start).reportedMilliseconds)
    }
}

/// `debug.spin {ms}`: keeps a CPU busy, checking for cancellation between short slices.
struct SpinHandler: JobHandler {
    struct Payload: Codable, Sendable { var ms: Double }
    struct Output: Codable, Sendable {
        var spunMs: Double
        var iterations: Int
    }
    static let kind = "debug.spin"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let total = try Diagnostics.milliseconds(payload.ms, field: "ms", kind: Self.kind)
        let start = ContinuousClock.now
        var iterations = 0
        var accumulator: UInt64 = 0x9E37_79B9_7F4A_7C15
        while ContinuousClock.now - start < total {
            for _ in 0..<2_000 {
                accumulator ^= accumulator << 13
                accumulator ^= accumulator >> 7
                accumulator ^= accumulator << 17
            }
            iterations += 1
            try context.checkCancellation()
        }
        return Output(spunMs: (ContinuousClock.now - start).reportedMilliseconds, iterations: iterations + Int(accumulator & 1) * 0)
    }
}

/// `debug.fail {times}`: fails its first `times` attempts, then completes.
struct FailHandler: JobHandler {
    struct Payload: Codable, Sendable {
        var times: Int?
        var message: String?
    }
    struct Output: Codable, Sendable { var attempt: Int }
    static let kind = "debug.fail"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let times = payload.times ?? Int.max
        guard times >= 0 else { throw OffloadError(.invalidPayload, "payload.times must not be negative (debug.fail)") }
        if context.attempt <= times {
            let text = payload.message ?? "debug.fail: failing attempt \(context.attempt) of \(times == Int.max ? "every" : String(times))"
            throw OffloadError(.handlerFailed, text)
        }
        return Output(attempt: context.attempt)
    }
}

/// `debug.snooze {times, ms}`: snoozes its first `times` attempts for `ms` each, then completes.
struct SnoozeHandler: JobHandler {
    struct Payload: Codable, Sendable {
        var times: Int
        var ms: Double?
    }
    struct Output: Codable, Sendable { var attempt: Int }
    static let kind = "debug.snooze"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard payload.times >= 0 else { throw OffloadError(.invalidPayload, "payload.times must not be negative (debug.snooze)") }
        let delay = try Diagnostics.milliseconds(payload.ms ?? 0, field: "ms", kind: Self.kind)
        if context.attempt <= payload.times {
            throw OffloadError.snooze(for: delay, "debug.snooze: snoozing attempt \(context.attempt) of \(payload.times)")
        }
        return Output(attempt: context.attempt)
    }
}

/// `debug.alloc {mb, holdMs}`: allocates and touches `mb` MiB, holds it, then frees it.
struct AllocHandler: JobHandler {
    struct Payload: Codable, Sendable {
        var mb: Int
        var holdMs: Double?
    }
    struct Output: Codable, Sendable { var allocatedMb: Int }
    static let kind = "debug.alloc"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard (0...1_048_576).contains(payload.mb) else {
            throw OffloadError(.invalidPayload, "payload.mb must be between 0 and 1048576 (debug.alloc)")
        }
        let hold = try Diagnostics.milliseconds(payload.holdMs ?? 0, field: "holdMs", kind: Self.kind)
        let bytes = payload.mb << 20
        // In a worker process the worker's memory limit stops it; in a thread nothing stands
        // between it and the host but the job's memory budget.
        if context.isolation == .thread && bytes > context.limits.maxAggregationBytes {
            throw OffloadError.overBudget(
                "aggregationBytes", limit: context.limits.maxAggregationBytes, "debug.alloc asks for \(payload.mb) MiB in a thread of the host")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 4096)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < bytes {
            buffer[offset] = UInt8(truncatingIfNeeded: offset >> 12)
            offset += 4096
        }
        if hold > .zero { try await Task.sleep(for: hold) }
        return Output(allocatedMb: payload.mb)
    }
}
