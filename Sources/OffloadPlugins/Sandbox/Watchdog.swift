#if canImport(Glibc)
import Glibc
#endif
import COffloadPlugins
import Synchronization
import WasmKit

/// Stops a plugin call at its deadline by draining its store's fuel: the interpreter then traps
/// "out of fuel" at its next charge, even in a loop that never calls out. WasmKit has no other
/// interrupt, and its charge is a plain load, subtract and store, so a zero written from another
/// thread is almost always overwritten by the interpreter's own count (a spinning loop ran on
/// for 40–280 ms that way). The watchdog therefore signals the call's thread, whose handler
/// zeroes the counter between two of its own instructions (`offload_interrupt_*`), and signals
/// again every `DeadlineThread.refire` until the call ends. Draining fuel is not an interface
/// WasmKit promises, so process isolation also kills a worker whose job runs past its timeout.
final class Watchdog: @unchecked Sendable {
    // `@unchecked Sendable`: `store` is touched only by `DeadlineThread` under its lock, while
    // the call is registered; `fired` likewise.
    private let store: Store
    private let thread = pthread_self()
    private let call: Int32
    private let armed: Bool
    private var didFire = false
    private var id = 0

    private static let calls = Mutex<Int32>(0)
    private static let interruptible = offload_interrupt_install() == 0 && FuelCounter.offset != nil

    /// Watches the call about to run on the current thread in `store`.
    init(store: Store, after timeout: Duration) {
        self.store = store
        call = Self.calls.withLock { count in
            count = count == .max ? 1 : count + 1
            return count
        }
        if Self.interruptible, let counter = FuelCounter.address(in: store) {
            offload_interrupt_arm(counter, call)
            armed = true
        } else {
            armed = false
        }
        id = DeadlineThread.shared.add(deadline: ContinuousClock.now + timeout, self)
    }

    /// Whether the deadline passed while the call ran.
    var fired: Bool { DeadlineThread.shared.withLock { didFire } }

    /// Called under the deadline thread's lock, at the deadline and again every `refire`.
    fileprivate func fire() {
        didFire = true
        if armed {
            _ = offload_interrupt_send(UInt(thread), call)
        } else {
            store.fuel = Fuel(remaining: 0)
        }
    }

    /// Stops the call now, as if its deadline had passed (a cancelled job).
    func stopNow() { DeadlineThread.shared.fireNow(id) }

    /// After this returns the watchdog no longer touches the store. Called on the call's thread.
    func cancel() {
        DeadlineThread.shared.remove(id)
        if armed { offload_interrupt_disarm() }
    }
}

/// One thread for every deadline of the process: it sleeps until the earliest and fires those
/// that have passed.
private final class DeadlineThread: @unchecked Sendable {
    // `@unchecked Sendable`: `entries` and `nextID` are only touched with `mutex` held.
    static let shared = DeadlineThread()

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var entries: [Int: (deadline: ContinuousClock.Instant, watchdog: Watchdog)] = [:]
    private var nextID = 0
    /// The deadline the thread sleeps until; `nil` while it waits for a first one.
    private var sleepingUntil: ContinuousClock.Instant?
    /// How often a fired watchdog drains its store again until its call ends.
    static let refire = Duration.microseconds(200)

    private init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        let unmanaged = Unmanaged.passUnretained(self)
        var thread = pthread_t()
        pthread_create(
            &thread, nil,
            { context in
                Unmanaged<DeadlineThread>.fromOpaque(context!).takeUnretainedValue().loop()
                return nil
            }, unmanaged.toOpaque())
        pthread_detach(thread)
    }

    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    func add(deadline: ContinuousClock.Instant, _ watchdog: Watchdog) -> Int {
        withLock {
            nextID += 1
            entries[nextID] = (deadline, watchdog)
            // Wake the thread only when it would otherwise sleep past this deadline (calls far
            // shorter than their timeout come and go without waking it).
            if sleepingUntil.map({ deadline < $0 }) ?? true { pthread_cond_signal(condition) }
            return nextID
        }
    }

    /// Moves the deadline of `id` (if it is still watched) to now.
    func fireNow(_ id: Int) {
        withLock {
            guard entries[id] != nil else { return }
            entries[id]?.deadline = .now
            pthread_cond_signal(condition)
        }
    }

    func remove(_ id: Int) {
        _ = withLock { entries.removeValue(forKey: id) }
    }

    private func loop() {
        pthread_mutex_lock(mutex)
        while true {
            let now = ContinuousClock.now
            for (id, entry) in entries where entry.deadline <= now {
                entry.watchdog.fire()
                entries[id]?.deadline = now + Self.refire
            }
            guard let earliest = entries.values.map(\.deadline).min() else {
                sleepingUntil = nil
                pthread_cond_wait(condition, mutex)
                continue
            }
            sleepingUntil = earliest
            var current = timespec()
            clock_gettime(CLOCK_MONOTONIC, &current)
            let wait = (earliest - now).components
            var nanoseconds = Int(current.tv_nsec) + Int(wait.attoseconds / 1_000_000_000)
            var seconds = Int(current.tv_sec) + Int(wait.seconds) + nanoseconds / 1_000_000_000
            nanoseconds %= 1_000_000_000
            if seconds < 0 { seconds = 0 }
            var until = timespec(tv_sec: seconds, tv_nsec: nanoseconds)
            pthread_cond_timedwait(condition, mutex, &until)
        }
    }
}
