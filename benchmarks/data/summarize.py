"""The data suite's summaries: medians over rounds, ratios to polars and jq, peak memory, and
the check that Offload, polars and jq found the same groups and sums."""
import json
import statistics
import sys

work, size = sys.argv[1], int(sys.argv[2])
ours, peer = [], []
for line in sys.stdin:
    record = json.loads(line)
    (ours if record["side"] == "offload" else peer).append(record)
result = json.loads(open(f"{work}/out/results.jsonl").readline())["result"]
offload = {row["country"]: [row["total"], row["n"]] for row in result["records"]}
agree = True
for name in ("polars", "jq"):
    other = json.load(open(f"{work}/{name}.json"))
    for key, (total, n) in other.items():
        mine = offload.get(key)
        if mine is None or mine[1] != n or abs(mine[0] - total) > 1e-9 * max(1, abs(total)):
            agree = False
seconds = statistics.median(r["seconds"] for r in ours)
polars = statistics.median(r["polarsSeconds"] for r in peer)
jq = statistics.median(r["jqSeconds"] for r in peer)
peak = max(r["peakRssKB"] for r in ours) * 1024


def summary(figure, unit, value, peer_value, ratio, goal):
    print(json.dumps({"suite": "data", "figure": figure, "unit": unit, "ours": round(value, 3), "peer": None if peer_value is None else round(peer_value, 3),
                      "ratio": None if ratio is None else round(ratio, 3), "goal": goal}))


summary("group-by + sum + count, 500,000 records, end to end ÷ polars", "s", seconds, polars, seconds / polars, "<= 1.0")
summary("group-by + sum + count, 500,000 records, end to end ÷ jq", "s", seconds, jq, seconds / jq, "<= 0.05")
summary(f"peak RSS of the offload run ÷ input size ({size / 1e6:.1f} MB)", "MB", peak / 1e6, size / 1e6, peak / size, "< 2")
summary("groups and sums equal to polars' and jq's (relative 1e-9)", "bool", 1 if agree else 0, None, None, "1")
