import Logging
import Offload
import PostgresNIO
import Synchronization

/// The queue's notifications, heard on one connection and handed to whoever subscribed: new
/// jobs, cancel requests and finished jobs. When the connection is lost (a database restart),
/// it listens again, and tells subscribers that notifications may have been missed.
final class NotificationHub: Sendable {
    struct Channels: Sendable {
        var jobs: String
        var cancel: String
        var done: String
    }

    enum Notification: Sendable {
        /// Jobs were inserted or handed back.
        case jobs
        /// Someone asked to cancel this running job.
        case cancel(JobID)
        /// This job finished (completed, failed or cancelled).
        case done(JobID)
        /// Listening (again): notifications sent meanwhile are lost; look at the table.
        case listening
    }

    private let subscribers = Mutex<[UInt64: @Sendable (Notification) -> Void]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Calls `handler` for every notification until ``unsubscribe(_:)``.
    func subscribe(_ handler: @escaping @Sendable (Notification) -> Void) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = handler }
        return id
    }

    func unsubscribe(_ id: UInt64) {
        subscribers.withLock { _ = $0.removeValue(forKey: id) }
    }

    private func broadcast(_ notification: Notification) {
        for handler in subscribers.withLock({ Array($0.values) }) { handler(notification) }
    }

    /// Listens until the task is cancelled, connecting again after each loss.
    /// - Parameter followsEnds: whether the channel of ended jobs is listened to.
    func listen(configuration: PostgresConnection.Configuration, channels: Channels, followsEnds: Bool, logger: Logger) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                var lost: (any Error)?
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        var routes: [(String, @Sendable (String) -> [Notification])] = [
                            (channels.jobs, { @Sendable _ in [.jobs] }),
                            (channels.cancel, { @Sendable in [.cancel(JobID($0))] })
                        ]
                        if followsEnds {
                            // Several ids, joined by commas, when a batch of jobs ended.
                            routes.append((channels.done, { @Sendable in $0.split(separator: ",").map { .done(JobID(String($0))) } }))
                        }
                        for (channel, route) in routes {
                            group.addTask {
                                try await connection.listen(on: channel) { notifications in
                                    self.broadcast(.listening)
                                    for try await notification in notifications {
                                        for routed in route(notification.payload) { self.broadcast(routed) }
                                    }
                                }
                            }
                        }
                        failures = 0
                        try await group.next()
                        group.cancelAll()
                    }
                } catch {
                    lost = error
                }
                // A connection must be closed before it goes.
                try? await connection.close()
                if let lost { throw lost }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                if QueueServer.isWorthLogging(failures) {
                    logger.warning(
                        "listening for queue notifications failed; listening again",
                        metadata: ["error": "\(describe(error))", "failures": "\(failures)"])
                }
            }
            broadcast(.listening)
            do { try await Task.sleep(for: QueueServer.backoff(failures + 1)) } catch { return }
        }
    }
}
