import OffloadTestSupport
import Testing
@testable import Offload

@Suite struct WireProtocolTests {
    static let samples: [WireMessage] = [
        .initialize(
            WireInitialize(workerID: "w1", heartbeatInterval: .milliseconds(100), limits: ResourceLimits(maxMessageBytes: 1 << 20), hostPID: 42)),
        .workerReady(pid: 1234, kinds: ["debug.echo", "image"]),
        .job(WireJob(id: "a1", attempt: 2, kind: "debug.echo", priority: .critical, payload: Array(#"{"x":"ünï"}"#.utf8))),
        .jobStarted(id: "a1", attempt: 2),
        .jobProgress(id: "a1", attempt: 1, fraction: 0.25, message: "a quarter"),
        .jobProgress(id: "a1", attempt: 1, fraction: 1, message: nil),
        .jobCompleted(id: "a1", attempt: 1, result: []),
        .jobFailed(id: "a1", attempt: 3, failure: WireFailure(code: "handlerFailed", message: "boom", retryable: nil, cancelled: false)),
        .jobFailed(id: "a1", attempt: 1, failure: WireFailure(code: "cancelled", message: "", retryable: false, cancelled: true)),
        .jobFailed(
            id: "a1", attempt: 2, failure: WireFailure(code: "snoozed", message: "later", retryable: nil, cancelled: false, snoozeMilliseconds: 1_500)
        ),
        .heartbeat(sequence: .max),
        .cancel(id: "a1", attempt: 1),
        .terminate,
        .workerError(message: "bad")
    ]

    @Test func everyMessageSurvivesARoundTripHoweverTheStreamIsSplit() throws {
        var stream: [UInt8] = []
        for message in Self.samples { message.encode(into: &stream) }
        for chunkSize in [1, 3, 7, stream.count] {
            var decoder = FrameDecoder()
            var decoded: [WireMessage] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                stream[offset..<end].withUnsafeBytes { decoder.append($0) }
                while let message = try decoder.next() { decoded.append(message) }
                offset = end
            }
            try decoder.checkComplete()
            #expect(decoded == Self.samples)
        }
    }

    private func decodeAll(_ bytes: [UInt8], maxFrameBytes: Int = WireFormat.defaultMaxFrameBytes) throws(WireError) -> [WireMessage] {
        var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        bytes.withUnsafeBytes { decoder.append($0) }
        var messages: [WireMessage] = []
        while let message = try decoder.next() { messages.append(message) }
        try decoder.checkComplete()
        return messages
    }

    @Test func aStreamThatEndsInsideAFrameIsTruncated() {
        let frame = WireMessage.heartbeat(sequence: 1).frame
        #expect(throws: WireError(.truncated(missing: 3))) { try decodeAll(Array(frame.dropLast(3))) }
        #expect(throws: WireError(.truncated(missing: 2))) { try decodeAll([1, 0]) }
    }

    @Test func anOversizedFrameIsRefusedBeforeItIsRead() {
        #expect(throws: WireError(.oversized(length: 0x7fff_ffff, maximum: 4096))) {
            try decodeAll([0xff, 0xff, 0xff, 0x7f, 1, 8], maxFrameBytes: 4096)
        }
    }

    @Test func unknownVersionsAndTypesAreTypedErrors() {
        var frame = WireMessage.terminate.frame
        frame[4] = 9
        #expect(throws: WireError(.unsupportedVersion(9))) { try decodeAll(frame) }
        frame = WireMessage.terminate.frame
        frame[5] = 200
        #expect(throws: WireError(.unknownType(200))) { try decodeAll(frame) }
    }

    @Test func malformedBodiesAreTypedErrors() {
        // A heartbeat with 3 bytes of body instead of 8.
        #expect(throws: WireError.self) { try decodeAll([5, 0, 0, 0, 1, WireMessage.Kind.heartbeat.rawValue, 1, 2, 3]) }
        // A terminate with a body.
        #expect(throws: WireError.self) { try decodeAll([3, 0, 0, 0, 1, WireMessage.Kind.terminate.rawValue, 0]) }
        // A job with attempt 0 and a string that is not UTF-8.
        var writer = WireWriter()
        writer.string("a")
        writer.u32(0)
        #expect(throws: WireError(.malformed("attempt 0"))) { try decodeAll(frame(.jobStarted, writer.bytes)) }
        writer = WireWriter()
        writer.blob([0xff, 0xfe])
        writer.u32(1)
        #expect(throws: WireError.self) { try decodeAll(frame(.jobStarted, writer.bytes)) }
        // A length too short to hold version and type.
        #expect(throws: WireError.self) { try decodeAll([1, 0, 0, 0, 1]) }
    }

    private func frame(_ kind: WireMessage.Kind, _ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count + 2)
        return [UInt8(length & 0xff), UInt8(length >> 8 & 0xff), 0, 0, WireFormat.version, kind.rawValue] + body
    }
}
