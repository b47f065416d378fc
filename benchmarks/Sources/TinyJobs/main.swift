// One batch of tiny jobs through 2 workers, and nothing else: what `benchmarks/instructions.py`
// runs under callgrind twice, with two batch sizes, to count the instructions the host spends per
// job (start-up and shutdown cancel out in the difference).
//
//   TinyJobs thread|process JOBS [OFFLOAD_WORKER]
//
// `process`: 2 `offload-worker` processes, prefetch 16; only the host's instructions are counted.
// The main is synchronous and waits on a condition variable: an async main parks the main thread
// in libdispatch's sigsuspend on a read-only mask, which valgrind 3.19 cannot emulate.

#if canImport(Glibc)
import Glibc
#endif
import Offload

let arguments = CommandLine.arguments
guard arguments.count >= 3, let jobs = Int(arguments[2]), jobs > 0, arguments[1] == "thread" || arguments[1] == "process" else {
    print("usage: TinyJobs thread|process JOBS [OFFLOAD_WORKER]")
    exit(2)
}
let isolation = arguments[1]

var configuration = PoolConfiguration(scaling: .fixed(2), preemption: false)
if isolation == "process" {
    configuration.isolation = .process
    configuration.workerProcess.executable = arguments.count > 3 ? arguments[3] : "offload-worker"
    configuration.workerProcess.prefetch = 16
    // Under callgrind the host runs some 50 times slower than its workers.
    configuration.workerProcess.heartbeatTimeout = .seconds(120)
    configuration.workerProcess.startTimeout = .seconds(120)
}

final class Finished: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var status: Int32?
    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }
    func set(_ value: Int32) {
        pthread_mutex_lock(&mutex)
        status = value
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }
    func wait() -> Int32 {
        pthread_mutex_lock(&mutex)
        while status == nil { pthread_cond_wait(&condition, &mutex) }
        defer { pthread_mutex_unlock(&mutex) }
        return status!
    }
}

let finished = Finished()
Task.detached { [configuration] in
    do {
        let sum = try await WorkerPool.withPool(configuration: configuration, registry: .diagnostics) { pool in
            while pool.metrics.workers < 2 { try await Task.sleep(for: .milliseconds(1)) }
            var handles: [JobHandle<JSONValue>] = []
            handles.reserveCapacity(jobs)
            for value in 0..<jobs {
                handles.append(try await pool.submit(Job(kind: "debug.echo", payload: .value(Int64(value)))))
            }
            var sum: Int64 = 0
            for handle in handles { sum &+= try await handle.value(as: Int64.self) }
            return sum
        }
        guard sum == Int64(jobs) * Int64(jobs - 1) / 2 else {
            print("TinyJobs: wrong results")
            finished.set(1)
            return
        }
        print("TinyJobs: \(jobs) jobs, \(isolation) isolation")
        finished.set(0)
    } catch {
        print("TinyJobs: \(error)")
        finished.set(1)
    }
}
exit(finished.wait())
