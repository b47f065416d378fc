/// Cuts a byte stream into frames and decodes them, however the reads split the stream.
struct FrameDecoder {
    /// The largest frame accepted; a longer one is an error.
    var maxFrameBytes: Int
    private var buffer: [UInt8] = []
    /// Where the next frame starts in `buffer`.
    private var start = 0

    init(maxFrameBytes: Int = WireFormat.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
        buffer.reserveCapacity(64 << 10)
    }

    /// Adds bytes read from the stream.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 << 10 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame's message, or `nil` until more bytes arrive.
    mutating func next() throws(WireError) -> WireMessage? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self))) }
        guard length <= maxFrameBytes else { throw WireError(.oversized(length: length, maximum: maxFrameBytes)) }
        guard length >= 2 else { throw WireError(.malformed("a frame of length \(length) has no version and type")) }
        guard available >= 4 + length else { return nil }
        let frameStart = start
        start += 4 + length
        let version = buffer[frameStart + 4]
        guard version == WireFormat.version else { throw WireError(.unsupportedVersion(version)) }
        let type = buffer[frameStart + 5]
        guard let kind = WireMessage.Kind(rawValue: type) else { throw WireError(.unknownType(type)) }
        let decoded = buffer.withUnsafeBytes { raw -> Result<WireMessage, WireError> in
            let body = UnsafeRawBufferPointer(rebasing: raw[(frameStart + WireFormat.headerBytes)..<(frameStart + 4 + length)])
            do throws(WireError) { return .success(try WireMessage.decode(kind, body: body)) } catch { return .failure(error) }
        }
        return try decoded.get()
    }

    /// At the end of the stream: an error when a frame was cut short.
    func checkComplete() throws(WireError) {
        let available = buffer.count - start
        guard available > 0 else { return }
        guard available >= 4 else { throw WireError(.truncated(missing: 4 - available)) }
        let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self))) }
        throw WireError(.truncated(missing: 4 + length - available))
    }
}
