package import Offload
import Synchronization

/// What a group or aggregate step may hold: at most ``ResourceLimits/maxGroups`` distinct
/// groups, and ``ResourceLimits/maxAggregationBytes`` for their keys and what their
/// accumulators keep (every number of a median, every distinct value of a `unique`). Counted as
/// records come, so a group-by over millions of distinct keys fails at the limit instead of
/// taking the machine's memory.
package struct GroupBudget: Sendable {
    let maxGroups: Int
    let maxBytes: Int
    private(set) var bytes = 0
    /// The bytes of all the groupers that read parts of one input at once, when there are several:
    /// each holds its own keys, so together they are what the job holds.
    private let shared: SharedBytes?

    /// A count of bytes that several budgets add to from several threads.
    package final class SharedBytes: Sendable {
        let total = Atomic<Int>(0)
        package init() {}
    }

    package init(limits: ResourceLimits, shared: SharedBytes? = nil) {
        maxGroups = limits.maxGroups
        maxBytes = limits.maxAggregationBytes
        self.shared = shared
    }

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
        let total = shared.map { $0.total.add(more, ordering: .relaxed).newValue } ?? bytes
        guard total <= maxBytes else {
            throw AggregateError(
                overBudget: .overBudget(
                    "aggregationBytes", limit: maxBytes,
                    "the groups' keys and accumulators take \(OffloadError.grouped(total)) bytes"))
        }
    }

    /// A group taken in from another part's grouper: its bytes move, they are not new.
    mutating func addMovedGroup(number groups: Int) throws(AggregateError) {
        guard groups <= maxGroups else {
            throw AggregateError(overBudget: .overBudget("groups", limit: maxGroups, "the step makes more groups than the job may hold"))
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
