"""The analytics suite's summaries: the ratio to polars, events a second, and the check that
Offload and polars found the same buckets and values."""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summaries import median, printer, read_rounds  # noqa: E402

work = sys.argv[1]
ours, peer = read_rounds(sys.stdin)
result = json.loads(open(f"{work}/out/results.jsonl").readline())["result"]
mine = {}
for row in result["series"]:
    bucket = int(datetime.datetime.fromisoformat(row["bucket"].replace("Z", "+00:00")).timestamp())
    mine[f'{bucket}|{row["eventType"]}'] = [row["events"], row["p95"], row["sessions"]]
theirs = json.load(open(f"{work}/polars.json"))
agree = mine.keys() == theirs.keys() and all(
    mine[k][0] == theirs[k][0] and abs(mine[k][1] - theirs[k][1]) <= 1e-9 * max(1, abs(theirs[k][1])) and mine[k][2] == theirs[k][2]
    for k in theirs)
seconds = median(ours, "seconds")
polars = median(peer, "polarsSeconds")
events = peer[0]["events"]
summary = printer("analytics")
summary("1,000,000 events → hourly × event-type buckets (count, p95, unique sessions), end to end ÷ polars", "s", seconds, polars, seconds / polars, "<= 1.0")
summary("events a second, end to end (reading and parsing included)", "events/s", events / seconds, None, None, ">= 1,000,000 once parsed")
summary("buckets and values equal to polars' (relative 1e-9)", "bool", 1 if agree else 0, None, None, "1")
