/// The pool's timekeeper: a thread that sleeps until the next thing due (a delayed job, a
/// timeout, a grace period, a scaling check) and is woken early when an earlier one appears.
final class Supervisor: @unchecked Sendable {
    // `@unchecked Sendable`: `wakeRequested` is read and written under `condition` only.
    private let condition = ConditionLock()
    private var wakeRequested = false

    /// Starts the thread; it calls `tick` until `tick` returns `nil`, sleeping until the time it returns.
    func start(tick: @escaping @Sendable () -> ContinuousClock.Instant?) {
        OSThread.detach(name: "offload-super") { [self] in
            while let next = tick() {
                condition.lock()
                if !wakeRequested {
                    condition.wait(timeout: next - .now)
                }
                wakeRequested = false
                condition.unlock()
            }
        }
    }

    /// Makes the thread run its tick now.
    func wake() {
        condition.lock()
        wakeRequested = true
        condition.unlock()
        condition.signal()
    }
}
