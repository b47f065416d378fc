/// Starts worker processes from one thread that lives as long as the host.
///
/// A child's parent-death signal fires when the *thread* that started it ends, not the process;
/// children started from threads that come and go (a reader of a worker that died) would be
/// killed with them. Starting every child here keeps the signal meaning "the host died".
final class ProcessLauncher: @unchecked Sendable {
    // `@unchecked Sendable`: `requests` is read and written under `condition` only.
    static let shared = ProcessLauncher()

    private let condition = ConditionLock()
    private var requests: [@Sendable () -> Void] = []

    private init() {
        OSThread.detach(name: "offload-launch") { [self] in loop() }
    }

    /// Runs `work` on the launcher's thread, after the requests before it.
    func launch(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        requests.append(work)
        condition.unlock()
        condition.signal()
    }

    private func loop() {
        var batch: [@Sendable () -> Void] = []
        while true {
            condition.lock()
            while requests.isEmpty { condition.wait() }
            swap(&batch, &requests)
            condition.unlock()
            for work in batch { work() }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
