import Offload
import Testing
@testable import OffloadData

/// Group keys: equal numbers are one group whatever their spelling, strings are compared byte
/// for byte, and thousands of groups survive the table's growth.
@Suite struct GroupIndexTests {
    @Test func findsEveryGroupAgainAfterGrowth() {
        var index = GroupIndex()
        var keys: [[JSONValue]] = []
        for number in 0..<5_000 {
            let key: [JSONValue] = [.string("k\(number % 100)"), .int(Int64(number / 100)), number % 7 == 0 ? .null : .bool(number % 2 == 0)]
            let found = index.find(key, in: keys)
            if found.group == nil {
                index.append(hash: found.hash)
                keys.append(key)
            }
        }
        #expect(keys.count == Set(keys).count)
        for (group, key) in keys.enumerated() { #expect(index.find(key, in: keys).group == group) }
    }

    @Test func numbersByValueStringsByBytes() {
        var index = GroupIndex()
        var keys: [[JSONValue]] = []
        func group(_ key: [JSONValue]) -> Int {
            let found = index.find(key, in: keys)
            if let group = found.group { return group }
            index.append(hash: found.hash)
            keys.append(key)
            return keys.count - 1
        }
        #expect(group([.int(3), .string("a")]) == group([.double(3.0), .string("a")]))
        #expect(group([.double(0)]) == group([.double(-0.0)]))
        #expect(group([.string("\u{e9}")]) != group([.string("e\u{301}")]))
        #expect(group([.array([.int(1)])]) == group([.array([.double(1)])]))
        #expect(group([.null]) != group([.bool(false)]))
    }
}
