#if canImport(Glibc)
import Glibc
#endif
import Offload

/// The group number of each group key: open addressing over a cheap hash of the key. A key's
/// top-level strings are hashed and compared by their UTF-8 bytes, as polars and jq compare
/// them (Swift's `String ==` would also merge canonically equivalent spellings, and its SipHash
/// made the dictionary this replaces a tenth of an analytics run); other values by `JSONValue`'s
/// own equality.
struct GroupIndex {
    private var table: [Int32] = []
    private var hashes: [UInt64] = []

    var count: Int { hashes.count }

    /// The group of `key` among `keys` (the keys in group order), or `nil` with its hash.
    func find(_ key: [JSONValue], in keys: [[JSONValue]]) -> (group: Int?, hash: UInt64) {
        let hash = Self.hash(key)
        guard !table.isEmpty else { return (nil, hash) }
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let group = Int(table[slot])
            if group < 0 { return (nil, hash) }
            if hashes[group] == hash && Self.same(keys[group], key) { return (group, hash) }
            slot = (slot + 1) & mask
        }
    }

    /// Records the next group, whose key has `hash` (from ``find(_:in:)``).
    mutating func append(hash: UInt64) {
        hashes.append(hash)
        if hashes.count * 2 > table.count {
            rebuild(capacity: max(16, table.count * 2))
        } else {
            place(hashes.count - 1)
        }
    }

    private mutating func rebuild(capacity: Int) {
        table = [Int32](repeating: -1, count: capacity)
        for group in hashes.indices { place(group) }
    }

    private mutating func place(_ group: Int) {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hashes[group]) & mask
        while table[slot] >= 0 { slot = (slot + 1) & mask }
        table[slot] = Int32(group)
    }

    static func hash(_ key: [JSONValue]) -> UInt64 {
        var hash: UInt64 = 0x2545_F491_4F6C_DD1D
        for value in key { hash = (hash ^ hashOne(value)) &* 0x9E37_79B9_7F4A_7C15 }
        return hash ^ (hash >> 31)
    }

    private static func hashOne(_ value: JSONValue) -> UInt64 {
        switch value {
        case .null: return 1
        case .bool(let flag): return flag ? 2 : 3
        case .int, .double:
            // Equal numbers hash alike whatever their case (3 and 3.0; 0 and -0).
            let number = value.doubleValue ?? 0
            return mix((number == 0 ? 0 : number).bitPattern)
        case .string(var text): return text.withUTF8(ByteStringSet.hash)
        case .array, .object: return UInt64(bitPattern: Int64(value.hashValue))
        }
    }

    private static func mix(_ bits: UInt64) -> UInt64 {
        var hash = bits &* 0xFF51_AFD7_ED55_8CCD
        hash ^= hash >> 33
        return hash &* 0xC4CE_B9FE_1A85_EC53
    }

    /// Whether two keys are the same group: strings byte for byte, other values by `==`.
    static func same(_ a: [JSONValue], _ b: [JSONValue]) -> Bool {
        guard a.count == b.count else { return false }
        for (left, right) in zip(a, b) {
            if case .string(var x) = left, case .string(var y) = right {
                let equal = x.withUTF8 { a in
                    y.withUTF8 { b in a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0) }
                }
                guard equal else { return false }
            } else if left != right {
                return false
            }
        }
        return true
    }
}
