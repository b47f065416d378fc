import Offload
import OffloadTestSupport

// A worker executable for tests of process isolation with a typed kind of their own.
WorkerProcess.runIfWorker(registry: .testKinds)
print("offload-test-worker: start me from a pool in process isolation")
