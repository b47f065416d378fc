"""The ipc suite's peer: Python's concurrent.futures.ProcessPoolExecutor doing what the Swift
side does (start a worker, echo 64 bytes, run tiny jobs on 2 workers, sit idle), one round.
Prints one JSON object per line, like the Swift side."""
import concurrent.futures as futures
import json
import os
import sys
import time


def echo(payload):
    return payload


def double(value):
    return value * 2 + 1


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def private_and_resident(pid):
    private = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                private += int(line.split()[1]) * 1024
    with open(f"/proc/{pid}/status") as status:
        resident = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    return private, resident


def main():
    round_number = int(sys.argv[sys.argv.index("--round") + 1]) if "--round" in sys.argv else 1
    samples = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv else 2000
    jobs = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 20000
    payload = "x" * 64

    spawn = []
    for _ in range(15):
        start = time.perf_counter()
        with futures.ProcessPoolExecutor(max_workers=1) as executor:
            executor.submit(echo, "").result()
            spawn.append((time.perf_counter() - start) * 1e3)

    with futures.ProcessPoolExecutor(max_workers=1) as executor:
        executor.submit(echo, payload).result()
        latencies = []
        for _ in range(samples):
            start = time.perf_counter()
            assert executor.submit(echo, payload).result() == payload
            latencies.append((time.perf_counter() - start) * 1e6)
        time.sleep(0.3)
        private, resident = private_and_resident(next(iter(executor._processes)))

    with futures.ProcessPoolExecutor(max_workers=2) as executor:
        executor.submit(echo, "").result()
        start = time.perf_counter()
        handles = [executor.submit(double, value) for value in range(jobs)]
        total = sum(handle.result() for handle in handles)
        elapsed = time.perf_counter() - start
        assert total == sum(double(value) for value in range(jobs))

    print(json.dumps({
        "suite": "ipc", "side": "peer", "peer": "python ProcessPoolExecutor (fork)", "round": round_number,
        "spawnToFirstResultMsP50": percentile(spawn, 0.5),
        "roundTripMicrosP50": percentile(latencies, 0.5), "roundTripMicrosP99": percentile(latencies, 0.99),
        "tinyJobsPerSecond": jobs / elapsed,
        "idleWorkerPrivateMB": private / 1e6, "idleWorkerResidentMB": resident / 1e6,
    }), flush=True)


if __name__ == "__main__":
    main()
