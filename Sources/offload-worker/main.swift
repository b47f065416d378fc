#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Offload

// A small worker executable for process isolation: point `WorkerProcessOptions.executable`
// (or `offload run --worker-executable`) at it to run the diagnostic kinds in workers that
// start faster and use less memory than a re-run of the host.
WorkerProcess.runIfWorker(registry: .diagnostics)
let usage = "offload-worker runs jobs for an Offload pool in process isolation; the pool starts it. It is not meant to be run by hand.\n"
_ = usage.utf8CString.withUnsafeBytes { write(2, $0.baseAddress, $0.count - 1) }
exit(64)
