#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COffloadSystem

/// A pthread mutex with a condition variable on the monotonic clock, for threads that sleep
/// until work arrives or a time passes.
///
/// `@unchecked Sendable`: the pthread objects live at fixed heap addresses and are only used
/// through their own thread-safe calls.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(condition) }

    /// Waits (the lock held) until signalled.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits (the lock held) until signalled or `timeout` has passed.
    func wait(timeout: Duration) {
        guard timeout > .zero else { return }
        #if canImport(Glibc)
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanos = Int(deadline.tv_nsec) + Int(min(timeout.nanoseconds, 3_600_000_000_000) % 1_000_000_000)
        deadline.tv_sec += Int(min(timeout.nanoseconds, 3_600_000_000_000) / 1_000_000_000) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        pthread_cond_timedwait(condition, mutex, &deadline)
        #else
        var relative = timespec(tv_sec: Int(timeout.components.seconds), tv_nsec: Int(timeout.components.attoseconds / 1_000_000_000))
        pthread_cond_timedwait_relative_np(condition, mutex, &relative)
        #endif
    }
}

/// Starts detached OS threads.
enum OSThread {
    /// Runs `body` on a new detached thread named `name` (the first 15 bytes on Linux).
    static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, name: String) {
                self.body = body
                self.name = name
            }
        }
        let box = Unmanaged.passRetained(Box(body, name: name)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let result = pthread_create(
            &thread, &attributes,
            { pointer in
                let box = Unmanaged<Box>.fromOpaque(pointer!).takeRetainedValue()
                offload_set_thread_name(box.name)
                box.body()
                return nil
            }, box)
        pthread_attr_destroy(&attributes)
        precondition(result == 0, "pthread_create failed with \(result)")
    }
}
