/// The most one job may use of what its input controls: memory a hostile or careless payload
/// could ask for, held in check before it is spent. Each built-in kind reads the budgets that
/// concern it from ``JobContext/limits``; a job that needs more fails
/// ``OffloadError/Code/resourceLimitExceeded`` with a message naming the budget and its size.
///
/// The defaults let several jobs run at once on a machine of a few GiB; raise them for big
/// trusted inputs:
///
/// ```swift
/// var configuration = PoolConfiguration()
/// configuration.limits.maxGroups = 10_000_000
/// ```
public struct ResourceLimits: Sendable, Hashable {
    /// Pixels decoded across all of one image job's pictures (logo, background, layers); a
    /// picture used several times counts once. Default 40 megapixels (four 4096×2304 pictures,
    /// about 160 MB of RGBA).
    public var maxDecodedPixels: Int
    /// Layers of one image card. Default 64.
    public var maxLayers: Int
    /// Distinct groups one `group` step or analytics aggregation holds. Default 2,000,000.
    public var maxGroups: Int
    /// Bytes the groups' keys and accumulators hold (the values a median or percentile keeps,
    /// the strings a `unique` counts). Default 512 MiB.
    public var maxAggregationBytes: Int
    /// Records a step that needs all of them at once (a `sort`) holds in memory. Default 2,000,000.
    public var maxHeldRecords: Int
    /// The largest payload or result of one job, in bytes, as JSON; it is also what one frame to
    /// or from a worker process may carry. Default 64 MiB.
    public var maxMessageBytes: Int

    /// - Parameters: see each property; every one has a default.
    public init(
        maxDecodedPixels: Int = 40_000_000,
        maxLayers: Int = 64,
        maxGroups: Int = 2_000_000,
        maxAggregationBytes: Int = 512 << 20,
        maxHeldRecords: Int = 2_000_000,
        maxMessageBytes: Int = 64 << 20
    ) {
        self.maxDecodedPixels = maxDecodedPixels
        self.maxLayers = maxLayers
        self.maxGroups = maxGroups
        self.maxAggregationBytes = maxAggregationBytes
        self.maxHeldRecords = maxHeldRecords
        self.maxMessageBytes = maxMessageBytes
    }

    /// The budgets by the names messages and `--limit` use, in a fixed order.
    public static let names = ["decodedPixels", "layers", "groups", "aggregationBytes", "heldRecords", "messageBytes"]

    /// The budget called `name` (one of ``names``).
    public subscript(name: String) -> Int? {
        get {
            switch name {
            case "decodedPixels": maxDecodedPixels
            case "layers": maxLayers
            case "groups": maxGroups
            case "aggregationBytes": maxAggregationBytes
            case "heldRecords": maxHeldRecords
            case "messageBytes": maxMessageBytes
            default: nil
            }
        }
        set {
            guard let newValue else { return }
            switch name {
            case "decodedPixels": maxDecodedPixels = newValue
            case "layers": maxLayers = newValue
            case "groups": maxGroups = newValue
            case "aggregationBytes": maxAggregationBytes = newValue
            case "heldRecords": maxHeldRecords = newValue
            case "messageBytes": maxMessageBytes = newValue
            default: break
            }
        }
    }

    func validate() throws(OffloadError) {
        for name in Self.names where self[name]! < 1 {
            throw OffloadError(.invalidConfiguration, "limits.\(name) must be at least 1")
        }
        if maxMessageBytes < 4096 || maxMessageBytes > Int(Int32.max) - Self.frameHeadroom {
            throw OffloadError(.invalidConfiguration, "limits.messageBytes must be between 4096 and \(Int(Int32.max) - Self.frameHeadroom)")
        }
    }

    /// Refuses a payload of `bytes` bytes of JSON when over ``maxMessageBytes``.
    public func checkPayload(bytes: Int) throws(OffloadError) {
        guard bytes > maxMessageBytes else { return }
        throw .overBudget("messageBytes", limit: maxMessageBytes, "the payload is \(OffloadError.grouped(bytes)) bytes of JSON")
    }

    /// Refuses a result of `bytes` bytes of JSON when over ``maxMessageBytes``.
    public func checkResult(bytes: Int) throws(OffloadError) {
        guard bytes > maxMessageBytes else { return }
        throw .overBudget("messageBytes", limit: maxMessageBytes, "the result is \(OffloadError.grouped(bytes)) bytes of JSON")
    }

    /// Room in a frame for what travels around a payload or result (ids, kind, message type).
    static let frameHeadroom = 1 << 20

    /// The largest frame either side of a worker process may send.
    var maxFrameBytes: Int { maxMessageBytes + Self.frameHeadroom }
}

extension OffloadError {
    /// A job asked for more than one of its ``ResourceLimits`` allows.
    /// - Parameters:
    ///   - budget: the budget's name (as in ``ResourceLimits/names``).
    ///   - limit: its size.
    ///   - what: what went over it, for the message ("payload.params.layers has 150 layers").
    public static func overBudget(_ budget: String, limit: Int, _ what: String) -> OffloadError {
        OffloadError(.resourceLimitExceeded, "\(what), over the \(budget) limit of \(OffloadError.grouped(limit))")
    }
}
