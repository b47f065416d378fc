/// A task executor with a thread of its own: the tasks that prefer it run on that thread only,
/// so a handler that blocks (CPU work, a blocking call) never starves Swift's cooperative pool.
package final class WorkerThreadExecutor: TaskExecutor, @unchecked Sendable {
    // `@unchecked Sendable`: every mutable field below is read and written under `condition`.
    private let condition = ConditionLock()
    private var jobs: [UnownedJob] = []
    private var isSleeping = false
    private var isStopping = false
    private var hasExited = false

    /// Starts the thread.
    package init() {}

    package func start(name: String) {
        OSThread.detach(name: name) { [self] in runLoop() }
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if hasExited {
            condition.unlock()
            // A task that still prefers this executor after its thread ended runs on the global pool.
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(job)
        let wake = isSleeping
        condition.unlock()
        if wake { condition.signal() }
    }

    /// Ends the thread once the jobs already enqueued have run.
    package func stop() {
        condition.lock()
        isStopping = true
        let wake = isSleeping
        condition.unlock()
        if wake { condition.signal() }
    }

    private func runLoop() {
        let executor = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        condition.lock()
        while true {
            while jobs.isEmpty && !isStopping {
                isSleeping = true
                condition.wait()
                isSleeping = false
            }
            if jobs.isEmpty {
                hasExited = true
                condition.unlock()
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: executor) }
            batch.removeAll(keepingCapacity: true)
            condition.lock()
        }
    }
}
