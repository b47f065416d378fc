public import Tracing

/// The propagation headers of the trace a job belongs to — W3C `traceparent` and `tracestate`,
/// or whatever the program's tracer propagates — as a job carries them: in memory, to a worker
/// process, in a job file and through the durable queue. Bounded, as every input is.
public struct TraceHeaders: Sendable, Hashable {
    /// The most headers, and their longest names and values (W3C `tracestate` is at most 512
    /// characters).
    public static let maxCount = 8
    public static let maxNameBytes = 64
    public static let maxValueBytes = 1_024

    public private(set) var values: [String: String]

    public init() { values = [:] }

    /// - Throws: ``OffloadError`` `invalidPayload` (field `trace`) for more than ``maxCount``
    ///   headers, a name that is not 1 to ``maxNameBytes`` of `a–z 0–9 - _ .`, or a value over
    ///   ``maxValueBytes`` or outside printable ASCII.
    public init(_ values: [String: String]) throws(OffloadError) {
        guard values.count <= Self.maxCount else {
            throw OffloadError(.invalidPayload, "trace has \(values.count) headers; at most \(Self.maxCount)")
        }
        for (name, value) in values {
            guard (1...Self.maxNameBytes).contains(name.utf8.count),
                name.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
            else {
                throw OffloadError(
                    .invalidPayload, "trace header \(OffloadError.quote(name)) is not a lower-case header name of 1 to \(Self.maxNameBytes) bytes")
            }
            guard value.utf8.count <= Self.maxValueBytes, value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
                throw OffloadError(.invalidPayload, "trace header \(name) must be at most \(Self.maxValueBytes) bytes of printable ASCII")
            }
        }
        self.values = values
    }

    public var isEmpty: Bool { values.isEmpty }

    /// The W3C `traceparent`, when the tracer propagates one.
    public var traceParent: String? { values["traceparent"] }

    /// The context these headers carry, as the process's instrument reads it
    /// (`InstrumentationSystem`, bootstrapped by the program); empty when none is.
    public var serviceContext: ServiceContext { serviceContext(using: InstrumentationSystem.instrument) }

    /// The context these headers carry, as `instrument` reads it.
    public func serviceContext(using instrument: any Instrument) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard !values.isEmpty else { return context }
        instrument.extract(values, into: &context, using: Carrier())
        return context
    }

    /// The headers `instrument` writes for `context`.
    public static func of(_ context: ServiceContext, using instrument: any Instrument) -> TraceHeaders {
        var values: [String: String] = [:]
        instrument.inject(context, into: &values, using: Carrier())
        // A tracer's own headers are trusted to be well formed; bounded all the same.
        return (try? TraceHeaders(values)) ?? TraceHeaders()
    }

    /// Writes and reads headers in a dictionary.
    struct Carrier: Injector, Extractor {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}
