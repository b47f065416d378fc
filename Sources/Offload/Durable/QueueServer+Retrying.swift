import Logging
import Synchronization

// How a server waits and tries again: intervals, retries with a back-off, and the drain deadline
// that bounds every statement once it stops.
extension QueueServer {
    func everyInterval(_ interval: Duration, _ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await body()
        }
    }

    /// Runs `operation` until it succeeds, waiting longer after each failure, and logging the
    /// 1st, 2nd, 4th, 8th… failure only (an outage is a few lines, not one a try).
    /// - Returns: its value; `.failure` when the queue refuses it for good
    ///   (``OffloadError/Code/unstorable``: trying again cannot help); `nil` when it gave up:
    ///   after `attempts` failures, once a stopping server is past its drain deadline, or when
    ///   the task is cancelled.
    func retrying<T: Sendable>(
        _ what: String, attempts: Int? = nil,
        _ operation: @Sendable () async throws -> T
    ) async -> Result<T, OffloadError>? {
        var failures = 0
        while true {
            do { return .success(try await withinDrain(operation)) } catch let error as OffloadError where error.code == .unstorable {
                return .failure(error)
            } catch {
                failures += 1
                let deadline = state.withLock { $0.drainDeadline }
                let givingUp = Task.isCancelled || attempts.map { failures >= $0 } == true || deadline.map { ContinuousClock.now >= $0 } == true
                if givingUp || Self.isWorthLogging(failures) {
                    configuration.logger.warning(
                        "\(what) failed\(givingUp ? "; giving up" : "")",
                        metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
                if givingUp { return nil }
                var pause = Self.backoff(failures)
                if let deadline { pause = min(pause, max(deadline - .now, .milliseconds(10))) }
                do { try await Task.sleep(for: pause) } catch { return nil }
            }
        }
    }

    /// `operation`, given up on (`CancellationError`) at the drain deadline once the server stops:
    /// a statement the queue does not answer must not hold the stop.
    func withinDrain<T: Sendable>(_ operation: @Sendable () async throws -> T) async throws -> T {
        guard let deadline = state.withLock({ $0.drainDeadline }) else { return try await operation() }
        return try await withoutActuallyEscaping(operation) { operation in
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await operation() }
                group.addTask {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
                defer { group.cancelAll() }
                guard let value = try await group.next() ?? nil else { throw CancellationError() }
                return value
            }
        }
    }

    /// Whether the `failures`th failure in a row is logged: the 1st, 2nd, 4th, 8th…
    package static func isWorthLogging(_ failures: Int) -> Bool { failures > 0 && failures & (failures - 1) == 0 }

    /// The wait after `failures` failures in a row (1 or more): 100 ms doubling, at most `cap`.
    package static func backoff(_ failures: Int, cap: Duration = .seconds(5)) -> Duration {
        min(.milliseconds(100 << min(max(failures, 1) - 1, 6)), cap)
    }
}
