package import Offload

/// What a group or aggregate step may hold: at most ``ResourceLimits/maxGroups`` distinct
/// groups, and ``ResourceLimits/maxAggregationBytes`` for their keys and what their
/// accumulators keep (every number of a median, every distinct value of a `unique`). Counted as
/// records come, so a group-by over millions of distinct keys fails at the limit instead of
/// taking the machine's memory.
package struct GroupBudget: Sendable {
    let maxGroups: Int
    let maxBytes: Int
    private(set) var bytes = 0

    package init(limits: ResourceLimits) {
        maxGroups = limits.maxGroups
        maxBytes = limits.maxAggregationBytes
    }

    /// No limits (for steps over records already in memory and checked).
    package static let unlimited = GroupBudget(limits: ResourceLimits(maxGroups: .max, maxAggregationBytes: .max))

    /// A new group, the `groups`-th, whose key and accumulators take `bytes`.
    mutating func addGroup(number groups: Int, bytes: Int) throws(AggregateError) {
        guard groups <= maxGroups else {
            throw AggregateError(overBudget: .overBudget("groups", limit: maxGroups, "the step makes more groups than the job may hold"))
        }
        try add(bytes)
    }

    /// `bytes` more held.
    mutating func add(_ more: Int) throws(AggregateError) {
        bytes += more
        guard bytes <= maxBytes else {
            throw AggregateError(overBudget: .overBudget("aggregationBytes", limit: maxBytes,
                                                         "the groups' keys and accumulators take \(OffloadError.grouped(bytes)) bytes"))
        }
    }

    /// About what `value` takes in memory.
    static func bytes(of value: JSONValue) -> Int {
        switch value {
        case .string(let text): 16 + text.utf8.count
        case .array(let items): 16 + items.reduce(0) { $0 + bytes(of: $1) }
        case .object(let members): 16 + members.reduce(0) { $0 + 16 + $1.key.utf8.count + bytes(of: $1.value) }
        default: 16
        }
    }
}
