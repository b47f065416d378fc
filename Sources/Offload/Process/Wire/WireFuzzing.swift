/// The frame decoder as a fuzzer drives it (the `chaos` benchmark feeds it a million inputs).
/// Not API: its shape may change with the protocol.
@_spi(Fuzzing)
public enum WireFuzzing {
    /// What decoding one input gave.
    public struct Result: Sendable {
        /// Messages decoded before the input ended or broke.
        public var messages: Int
        /// The typed error, for an input that is not a whole sequence of valid frames.
        public var error: String?
    }

    /// Decodes `bytes` as a stream of frames.
    public static func decode(_ bytes: [UInt8], maxFrameBytes: Int = 1 << 20) -> Result {
        var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        bytes.withUnsafeBytes { decoder.append($0) }
        var count = 0
        do {
            while try decoder.next() != nil { count += 1 }
            try decoder.checkComplete()
            return Result(messages: count, error: nil)
        } catch {
            return Result(messages: count, error: error.description)
        }
    }

    /// Valid frames of every message type, to mutate.
    public static var seeds: [[UInt8]] {
        [
            WireMessage.initialize(
                WireInitialize(workerID: "w1", heartbeatInterval: .milliseconds(100), limits: ResourceLimits(maxMessageBytes: 1 << 20), hostPID: 1)),
            .workerReady(pid: 7, kinds: ["debug.echo", "image"]),
            .job(WireJob(id: "job-1", attempt: 1, kind: "debug.echo", priority: .high, payload: Array(#"{"a":[1,2,3]}"#.utf8))),
            .jobStarted(id: "job-1", attempt: 1),
            .jobProgress(id: "job-1", attempt: 1, fraction: 0.5, message: "half"),
            .jobCompleted(id: "job-1", attempt: 1, result: Array("{}".utf8)),
            .jobFailed(id: "job-1", attempt: 2, failure: WireFailure(code: "handlerFailed", message: "no", retryable: true, cancelled: false)),
            .jobFailed(
                id: "job-1", attempt: 3, failure: WireFailure(code: "snoozed", message: "", retryable: nil, cancelled: false, snoozeMilliseconds: 20)),
            .heartbeat(sequence: 9), .cancel(id: "job-1", attempt: 1), .terminate, .workerError(message: "oops")
        ].map(\.frame)
    }
}
