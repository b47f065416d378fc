/// A frame that breaks the protocol. It ends the worker that sent it (or, in a worker, the
/// worker itself); it never crashes the host.
struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    enum Reason: Equatable, Sendable {
        /// The stream ended inside a frame.
        case truncated(missing: Int)
        /// A frame longer than the agreed maximum.
        case oversized(length: Int, maximum: Int)
        case unsupportedVersion(UInt8)
        case unknownType(UInt8)
        /// A body that does not decode as its type says.
        case malformed(String)
    }

    var reason: Reason

    init(_ reason: Reason) { self.reason = reason }

    var description: String {
        switch reason {
        case .truncated(let missing): "the stream ended inside a frame (\(missing) bytes missing)"
        case .oversized(let length, let maximum): "a frame of \(length) bytes is over the maximum of \(maximum)"
        case .unsupportedVersion(let version): "a frame of protocol version \(version) (this side speaks \(WireFormat.version))"
        case .unknownType(let type): "a frame of unknown type \(type)"
        case .malformed(let detail): "a malformed frame: \(detail)"
        }
    }
}

/// Constants of the frame format.
enum WireFormat {
    static let version: UInt8 = 1
    /// Length prefix, version and type.
    static let headerBytes = 6
    /// The default largest frame: 64 MiB.
    static let defaultMaxFrameBytes = 64 << 20
}
