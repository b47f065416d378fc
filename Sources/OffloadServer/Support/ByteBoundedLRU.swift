/// Values by key whose sizes add up to at most `maxBytes`: inserting past it drops the least
/// recently used. Eviction scans the values, fine for the thousands a service keeps.
struct ByteBoundedLRU<Value> {
    let maxBytes: Int
    private var values: [String: (value: Value, size: Int, lastUse: UInt64)] = [:]
    private(set) var bytes = 0
    private var clock: UInt64 = 0

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    var count: Int { values.count }

    /// The value, marked as used.
    mutating func value(_ key: String) -> Value? {
        guard let kept = values[key] else { return nil }
        clock += 1
        values[key] = (kept.value, kept.size, clock)
        return kept.value
    }

    /// Keeps the value (one larger than `maxBytes` alone is not kept) and returns the keys dropped.
    @discardableResult
    mutating func insert(_ value: Value, size: Int, as key: String) -> [String] {
        guard size <= maxBytes else { return [] }
        clock += 1
        if let old = values[key] { bytes -= old.size }
        values[key] = (value, size, clock)
        bytes += size
        var dropped: [String] = []
        while bytes > maxBytes, let oldest = values.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            values[oldest.key] = nil
            bytes -= oldest.value.size
            dropped.append(oldest.key)
        }
        return dropped
    }
}
