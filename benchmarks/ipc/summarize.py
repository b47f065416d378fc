"""Turns the ipc suite's round lines (Offload and the Python peer) into summary lines: medians
over rounds, and the ratios the goals are stated in."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summaries import median, printer, read_rounds  # noqa: E402

ours, peer = read_rounds(sys.stdin)
summary = printer("ipc")

spawn = median(ours, "smallWorkerSpawnToReadyMsP50")
summary("spawn → workerReady p50, small worker (offload-worker); peer: executor start → first result",
        "ms", spawn, median(peer, "spawnToFirstResultMsP50"), None, "<= 5")
if all("staticWorkerSpawnToReadyMsP50" in record for record in ours):
    summary("spawn → workerReady p50, small worker with a static Swift runtime", "ms", median(ours, "staticWorkerSpawnToReadyMsP50"),
            None, None, "<= 5")
    summary("idle worker private memory (USS) / VmRSS, static small worker", "MB", median(ours, "staticWorkerIdlePrivateMB"),
            None, None, f"VmRSS {median(ours, 'staticWorkerIdleResidentMB'):.1f} MB (goal <= 2 / <= 10)")
summary("spawn → workerReady p50, the host re-run in worker mode", "ms", median(ours, "rerunHostSpawnToReadyMsP50"), None, None, "<= 5")
for percentile in ("P50", "P99"):
    value = median(ours, f"roundTripMicros{percentile}")
    python = median(peer, f"roundTripMicros{percentile}")
    pipe = median(ours, f"barePipeMicros{percentile}")
    summary(f"64-byte debug.echo round trip through the async API, {percentile.lower()} ÷ ProcessPoolExecutor",
            "µs", value, python, value / python, "<= 0.1")
    summary(f"64-byte debug.echo round trip through the async API, {percentile.lower()} ÷ bare blocking pipe ping-pong",
            "µs", value, pipe, value / pipe, "<= 3")
throughput = median(ours, "tinyJobsPerSecondPrefetch16")
summary("tiny jobs/s through 2 worker processes (prefetch 16)", "jobs/s", throughput,
        median(peer, "tinyJobsPerSecond"), throughput / median(peer, "tinyJobsPerSecond"), ">= 100000")
summary("tiny jobs/s through 2 worker processes (prefetch 1)", "jobs/s", median(ours, "tinyJobsPerSecondPrefetch1"),
        None, None, "context")
summary("idle worker private memory (USS), small worker", "MB", median(ours, "smallWorkerIdlePrivateMB"),
        median(peer, "idleWorkerPrivateMB"), median(ours, "smallWorkerIdlePrivateMB") / median(peer, "idleWorkerPrivateMB"), "<= 2")
summary("idle worker VmRSS, small worker", "MB", median(ours, "smallWorkerIdleResidentMB"),
        median(peer, "idleWorkerResidentMB"), median(ours, "smallWorkerIdleResidentMB") / median(peer, "idleWorkerResidentMB"), "<= 10")
summary("idle worker private memory (USS) / VmRSS, the host re-run", "MB", median(ours, "rerunHostIdlePrivateMB"),
        None, None, f"VmRSS {median(ours, 'rerunHostIdleResidentMB'):.1f} MB")
