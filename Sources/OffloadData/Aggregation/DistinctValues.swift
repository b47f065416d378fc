#if canImport(Glibc)
import Glibc
#endif
import Offload

/// The distinct values an `unique` aggregate has seen. Strings — nearly always what is counted
/// (session ids, user ids) — go into a hash set of their UTF-8 bytes with a cheap hash, compared
/// byte for byte as polars and jq compare them; other values into a `Set<JSONValue>`. (Swift's
/// `Set<JSONValue>` spent about a quarter of an analytics run hashing with SipHash and comparing
/// enum values.)
struct DistinctValues {
    private var strings = ByteStringSet()
    private var others: Set<JSONValue> = []

    var count: Int { strings.count + others.count }
    var isEmpty: Bool { count == 0 }

    /// Adds `value`; the bytes it now holds for it (0 when it was there already).
    @discardableResult
    mutating func insert(_ value: JSONValue) -> Int {
        guard case .string(var text) = value else {
            return others.insert(value).inserted ? 32 + GroupBudget.bytes(of: value) : 0
        }
        return text.withUTF8 { strings.insert($0) ? 24 + $0.count : 0 }
    }

    mutating func formUnion(_ other: DistinctValues) {
        strings.formUnion(other.strings)
        others.formUnion(other.others)
    }
}

/// A set of byte strings: open addressing with linear probing over a table of entry numbers,
/// the bytes kept end to end in one array.
struct ByteStringSet {
    private var table: [Int32] = []
    private var hashes: [UInt64] = []
    private var ends: [Int] = []
    private var bytes: [UInt8] = []

    var count: Int { ends.count }

    /// Adds `key`; whether it was not there.
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if (count + 1) * 2 > table.count { grow() }
        let hash = Self.hash(key)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(table[slot])
            if entry < 0 { break }
            if hashes[entry] == hash && matches(entry, key) { return false }
            slot = (slot + 1) & mask
        }
        table[slot] = Int32(count)
        hashes.append(hash)
        bytes.append(contentsOf: key)
        ends.append(bytes.count)
        return true
    }

    mutating func formUnion(_ other: ByteStringSet) {
        other.bytes.withUnsafeBufferPointer { all in
            var start = 0
            for end in other.ends {
                insert(UnsafeBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
    }

    private func matches(_ entry: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = entry == 0 ? 0 : ends[entry - 1]
        guard ends[entry] - start == key.count else { return false }
        return bytes.withUnsafeBufferPointer { all in
            key.isEmpty || memcmp(all.baseAddress! + start, key.baseAddress!, key.count) == 0
        }
    }

    private mutating func grow() {
        let capacity = max(16, table.count * 2)
        table = [Int32](repeating: -1, count: capacity)
        let mask = capacity - 1
        for (entry, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(entry)
        }
    }

    /// A fast 64-bit hash of the bytes, eight at a time, mixed at the end (not for hostile keys:
    /// a flood of colliding strings only slows one job's aggregate down).
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var index = 0
        let raw = UnsafeRawBufferPointer(key)
        while index + 8 <= key.count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            hash = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
            hash ^= hash >> 32
            index += 8
        }
        if index < key.count {
            var word: UInt64 = 0
            for offset in index..<key.count { word |= UInt64(key[offset]) << (UInt64(offset - index) * 8) }
            hash = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
        }
        hash ^= hash >> 33
        hash = hash &* 0xC4CE_B9FE_1A85_EC53
        return hash ^ (hash >> 29)
    }
}
