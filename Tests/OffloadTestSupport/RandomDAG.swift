public import Offload

/// A random graph of jobs for dependency tests: each job depends on up to three earlier ones,
/// some fail (`debug.fail`), some run after a failure anyway; the rest sleep a little
/// (`debug.sleep`). It tells what each job must end as, and what a run did wrong.
public struct RandomDAG: Sendable {
    public struct Node: Sendable {
        public var job: Job
        public var fails: Bool
    }

    /// How one job ended, as a store or a pool saw it (times in seconds on any one clock).
    public struct End: Sendable {
        public var state: JobState
        public var error: OffloadError?
        public var startedAt: Double?
        public var endedAt: Double

        public init(state: JobState, error: OffloadError?, startedAt: Double?, endedAt: Double) {
            self.state = state
            self.error = error
            self.startedAt = startedAt
            self.endedAt = endedAt
        }
    }

    public var nodes: [Node]

    /// - Parameters:
    ///   - count: the jobs.
    ///   - failing: the share of jobs that fail.
    ///   - runningAnyway: the share of dependents that run after a failure.
    public init(count: Int, seed: UInt64, failing: Double = 0.02, runningAnyway: Double = 0.1) {
        var random = SeededRandom(seed: seed)
        nodes = []
        for index in 0..<count {
            let fails = Double.random(in: 0..<1, using: &random) < failing
            var job =
                fails
                ? Job(kind: "debug.fail", payload: .json(["times": 100]))
                : Job(kind: "debug.sleep", payload: .json(["ms": .int(Int64.random(in: 0...3, using: &random))]))
            if index > 0 {
                let wanted = Int.random(in: 0...3, using: &random)
                // Mostly recent jobs (chains), sometimes any earlier one (fan-in across the graph).
                var chosen: [Int] = []
                for _ in 0..<wanted {
                    let earlier =
                        Bool.random(using: &random)
                        ? Int.random(in: max(0, index - 20)..<index, using: &random) : Int.random(in: 0..<index, using: &random)
                    if !chosen.contains(earlier) { chosen.append(earlier) }
                }
                job.dependsOn = chosen.map { nodes[$0].job.id }
                if Double.random(in: 0..<1, using: &random) < runningAnyway { job.onDependencyFailure = .run }
            }
            nodes.append(Node(job: job, fails: fails))
        }
    }

    public var jobs: [Job] { nodes.map(\.job) }

    /// The state each job must end in: a job whose dependency did not complete is cancelled
    /// (unless it runs anyway); one that runs ends as its kind makes it.
    public var expected: [JobID: JobState] {
        var states: [JobID: JobState] = [:]
        for node in nodes {
            let failedDependency = node.job.dependsOn.contains { states[$0] != .completed }
            if failedDependency && node.job.onDependencyFailure == .cancel {
                states[node.job.id] = .cancelled
            } else {
                states[node.job.id] = node.fails ? .failed : .completed
            }
        }
        return states
    }

    /// What the run did wrong: a job that ended otherwise than expected, a cancel that does not
    /// name a dependency that failed, a start before a dependency ended.
    public func problems(_ ends: [JobID: End]) -> [String] {
        let expected = expected
        var problems: [String] = []
        for node in nodes {
            let id = node.job.id
            guard let end = ends[id] else {
                problems.append("\(id): no end")
                continue
            }
            if end.state != expected[id] { problems.append("\(id): \(end.state), expected \(expected[id]!)") }
            if end.state == .cancelled, expected[id] == .cancelled {
                let named = node.job.dependsOn.filter { end.error?.message.contains($0.rawValue) == true }
                if end.error?.code != .dependencyFailed || named.isEmpty || named.contains(where: { expected[$0] == .completed }) {
                    problems.append("\(id): cancelled with \(String(describing: end.error)), not naming a dependency that failed")
                }
            }
            if let started = end.startedAt {
                for dependency in node.job.dependsOn {
                    if let before = ends[dependency], started < before.endedAt {
                        problems.append("\(id) started at \(started), before its dependency \(dependency) ended at \(before.endedAt)")
                    }
                }
            }
        }
        return problems
    }
}
