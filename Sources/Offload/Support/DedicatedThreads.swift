/// Runs CPU-bound work on threads of its own, so that it never occupies Swift's cooperative
/// pool (where it would stall every other task of the process, as a job on an event loop would).
package enum DedicatedThreads {
    /// Runs `body` on a new thread and returns at once.
    package static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        OSThread.detach(name: name, body)
    }

    /// Runs `body(0)`, …, `body(count - 1)` each on a new thread and returns their results in order.
    package static func map<T: Sendable>(_ count: Int, name: String = "offload-part", _ body: @escaping @Sendable (Int) -> T) async -> [T] {
        await withTaskGroup(of: (Int, T).self) { group in
            for index in 0..<count {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        OSThread.detach(name: "\(name)-\(index)") { continuation.resume(returning: (index, body(index))) }
                    }
                }
            }
            var results: [(Int, T)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
