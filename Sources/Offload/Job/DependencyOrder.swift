/// The order a batch of jobs is submitted in: each after the jobs of the batch it depends on,
/// the rest as given. A store takes a batch whose jobs name each other in any order, and
/// refuses one whose jobs form a cycle.
package enum DependencyOrder {
    /// The indices of `jobs`, each after those of the batch it depends on (by ``Job/dependsOn``).
    /// - Throws: ``OffloadError/Code/invalidDependency`` naming jobs of a cycle.
    package static func sorted(_ jobs: [Job]) throws(OffloadError) -> [Int] {
        guard jobs.contains(where: { !$0.dependsOn.isEmpty }) else { return Array(jobs.indices) }
        var index: [JobID: Int] = [:]
        for (position, job) in jobs.enumerated() { index[job.id] = position }
        enum Mark { case new, open, done }
        var marks = [Mark](repeating: .new, count: jobs.count)
        var order: [Int] = []
        order.reserveCapacity(jobs.count)
        // Depth first without recursion: a chain of thousands is as deep as it is long.
        for root in jobs.indices where marks[root] == .new {
            var path: [(job: Int, next: Int)] = [(root, 0)]
            marks[root] = .open
            while let (job, next) = path.last {
                let dependencies = jobs[job].dependsOn
                if next < dependencies.count {
                    path[path.count - 1].next += 1
                    guard let dependency = index[dependencies[next]] else { continue }
                    switch marks[dependency] {
                    case .done: continue
                    case .open:
                        let cycle = path.drop { $0.job != dependency }.map { jobs[$0.job].id.rawValue }
                        throw OffloadError(
                            .invalidDependency, "dependsOn: the jobs \(cycle.joined(separator: " → ")) → \(jobs[dependency].id) form a cycle")
                    case .new:
                        marks[dependency] = .open
                        path.append((dependency, 0))
                    }
                } else {
                    marks[job] = .done
                    order.append(job)
                    path.removeLast()
                }
            }
        }
        return order
    }
}
