"""The analytics suite's summaries: the ratio to polars, events a second, and the check that
Offload and polars found the same buckets and values."""
import json, statistics, sys, datetime
work = sys.argv[1]
ours, peer = [], []
for line in sys.stdin:
    record = json.loads(line)
    (ours if record["side"] == "offload" else peer).append(record)
result = json.loads(open(f"{work}/out/results.jsonl").readline())["result"]
mine = {}
for row in result["series"]:
    bucket = int(datetime.datetime.fromisoformat(row["bucket"].replace("Z", "+00:00")).timestamp())
    mine[f'{bucket}|{row["eventType"]}'] = [row["events"], row["p95"], row["sessions"]]
theirs = json.load(open(f"{work}/polars.json"))
agree = mine.keys() == theirs.keys() and all(
    mine[k][0] == theirs[k][0] and abs(mine[k][1] - theirs[k][1]) <= 1e-9 * max(1, abs(theirs[k][1])) and mine[k][2] == theirs[k][2]
    for k in theirs)
seconds = statistics.median(r["seconds"] for r in ours)
polars = statistics.median(r["polarsSeconds"] for r in peer)
events = peer[0]["events"]
def summary(figure, unit, value, other, ratio, goal):
    print(json.dumps({"suite": "analytics", "figure": figure, "unit": unit, "ours": round(value, 3), "peer": None if other is None else round(other, 3),
                      "ratio": None if ratio is None else round(ratio, 3), "goal": goal}))
summary("1,000,000 events → hourly × event-type buckets (count, p95, unique sessions), end to end ÷ polars", "s", seconds, polars, seconds / polars, "<= 1.0")
summary("events a second, end to end (reading and parsing included)", "events/s", events / seconds, None, None, ">= 1,000,000 once parsed")
summary("buckets and values equal to polars' (relative 1e-9)", "bool", 1 if agree else 0, None, None, "1")
