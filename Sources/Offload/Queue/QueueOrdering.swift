/// The order in which a queue hands out ready jobs.
public enum QueueOrdering: String, Sendable, Hashable {
    /// Highest priority first, first in first out within a level, with aging.
    case priority
    /// First in, first out, whatever the priority.
    case fifo
}

/// What a queue needs to know of the jobs it holds.
package protocol QueueableJob {
    var id: JobID { get }
    var priority: Priority { get }
}

extension Job: QueueableJob {}

/// The capabilities a worker must declare to take the jobs of one lane of a queue.
package struct QueueLane: Hashable, Sendable, CustomStringConvertible {
    /// The kind of the lane's jobs ("" in a queue that does not keep kinds apart): a pool keeps
    /// each kind in lanes of its own, so that a kind its limits hold back blocks no other.
    package let kind: String
    /// The capabilities, sorted.
    package let requirements: [String]

    package init(_ requirements: some Sequence<String>, kind: String = "") {
        self.kind = kind
        self.requirements = Array(Set(requirements)).sorted()
    }

    private init(kind: String, sorted requirements: [String]) {
        self.kind = kind
        self.requirements = requirements
    }

    /// The lane of `kind`'s jobs that need `capabilities`.
    static func requiring(_ capabilities: Set<String>, kind: String) -> QueueLane {
        QueueLane(kind: kind, sorted: capabilities.sorted())
    }

    /// The lane of jobs any worker may take.
    package static let any = QueueLane([])

    /// Whether a worker declaring `capabilities` can take this lane's jobs.
    package func isServed(by capabilities: Set<String>) -> Bool {
        requirements.isEmpty || requirements.allSatisfy(capabilities.contains)
    }

    package var description: String {
        let needs = requirements.isEmpty ? "any" : requirements.joined(separator: "+")
        return kind.isEmpty ? needs : "\(kind)/\(needs)"
    }
}

extension QueueOrdering {
    /// What one priority level is worth in a durable queue's claim order: the aging interval (a
    /// job that waited that long ranks with those a level higher), a century without aging
    /// (levels never mix), nothing for first in, first out.
    public func level(agingInterval: Duration?) -> Duration {
        switch self {
        case .fifo: .zero
        case .priority: agingInterval ?? .seconds(100 * 365.25 * 86_400)
        }
    }

    /// A ready job's place in a durable queue's claim order, earlier first: when it became ready,
    /// less `level` for each priority step above `low`. PostgreSQL's `job_rank` is this rule.
    public static func rank(readyAt: ContinuousClock.Instant, priority: Priority, level: Duration) -> ContinuousClock.Instant {
        readyAt - level * priority.rawValue
    }
}
