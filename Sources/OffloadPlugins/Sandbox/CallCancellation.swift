import Synchronization

/// Lets a cancelled job stop its plugin call at once: the pool cancels the job's task, whose
/// cancellation handler calls ``cancel()``, which stops the running call the way its deadline
/// would (the call fails `cancelled`, which the handler reports as `CancellationError`: a
/// cancelled job ends cancelled, a preempted one goes back to the queue), instead of the worker
/// waiting for the plugin's own deadline or being abandoned after the grace period.
@_spi(Benchmarks) public final class CallCancellation: Sendable {
    private struct State {
        var cancelled = false
        var watchdog: Watchdog?
    }

    private let state = Mutex(State())

    package init() {}

    package var isCancelled: Bool { state.withLock { $0.cancelled } }

    package func cancel() {
        let watchdog = state.withLock { state -> Watchdog? in
            state.cancelled = true
            return state.watchdog
        }
        watchdog?.stopNow()
    }

    /// Watches a call that starts; `false` when the job was cancelled already.
    func attach(_ watchdog: Watchdog) -> Bool {
        state.withLock { state in
            guard !state.cancelled else { return false }
            state.watchdog = watchdog
            return true
        }
    }

    func detach() { state.withLock { $0.watchdog = nil } }
}
