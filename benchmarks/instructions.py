"""Counts the instructions the host spends per tiny job, under callgrind: `TinyJobs` runs twice,
with 2,000 and 10,000 jobs, and the difference of the two totals divided by 8,000 cancels start-up
and shutdown. Callgrind counts instructions exactly, so the
figure repeats on a busy machine (within a few per cent: thread interleavings differ).

Prints one summary line per isolation, beside the figure measured before the pool's dispatch
was reworked (BASELINE, from the same measurement at that commit)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Instructions per job at commit 74cdb4c, before the dispatch was reworked: the median of three runs
# of this script on the 2-core machine the goals are set for (93,270–96,015 and 118,855–122,016).
BASELINE = {"thread": 93_700, "process": 120_904}
SMALL, LARGE = 2_000, 10_000


def total(executable, isolation, jobs, worker):
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=no",
         executable, isolation, str(jobs), worker],
        capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if not found:
        sys.exit(f"instructions: callgrind printed no total:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main():
    # valgrind 3.19 cannot read the DWARF 5 of Swift's executables: count a copy without it.
    executable, worker, isolations = sys.argv[1], sys.argv[2], sys.argv[3:]
    stripped = tempfile.mkdtemp()
    try:
        copy = os.path.join(stripped, "TinyJobs")
        subprocess.run(["objcopy", "--strip-debug", executable, copy], check=True)
        report(copy, worker, isolations)
    finally:
        shutil.rmtree(stripped)


def report(executable, worker, isolations):
    for isolation in isolations:
        per_job = (total(executable, isolation, LARGE, worker) - total(executable, isolation, SMALL, worker)) / (LARGE - SMALL)
        before = BASELINE[isolation]
        print(json.dumps({
            "suite": "instructions", "figure": f"host instructions per tiny job (debug.echo), 2 {isolation} workers, callgrind",
            "unit": "instructions", "ours": round(per_job), "before": before,
            "ratio": None if before is None else round(per_job / before, 3), "goal": "<= 0.5 × before"}, ensure_ascii=False))


main()
