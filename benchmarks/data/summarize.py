"""The data suite's summaries: medians over rounds, ratios to polars and jq, peak memory, and
the checks that Offload and its peers found the same output."""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summaries import printer  # noqa: E402

work, size = sys.argv[1], int(sys.argv[2])
ours, peer = {"groups": [], "shape": []}, []
for line in sys.stdin:
    record = json.loads(line)
    if record["side"] == "offload":
        ours[record["job"]].append(record)
    else:
        peer.append(record)


def same_number(a, b):
    return a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-9 * max(1, abs(b)))


result = json.loads(open(f"{work}/out-groups/results.jsonl").readline())["result"]
offload = {row["country"]: [row["total"], row["n"]] for row in result["records"]}
groups_agree = True
for name in ("polars", "jq"):
    other = json.load(open(f"{work}/{name}.json"))
    for key, (total, n) in other.items():
        mine = offload.get(key)
        if mine is None or mine[1] != n or not same_number(mine[0], total):
            groups_agree = False

shape_file = json.loads(open(f"{work}/out-shape/results.jsonl").readline())["result"]["file"]
shape_agree = True
with open(shape_file) as mine, open(f"{work}/polars-shape.jsonl") as theirs:
    for a, b in zip(mine, theirs, strict=True):
        x, y = json.loads(a), json.loads(b)
        if x.keys() != y.keys() or not all(same_number(x[k], y[k]) for k in x):
            shape_agree = False
            break

median = statistics.median
groups = median(r["seconds"] for r in ours["groups"])
shape = median(r["seconds"] for r in ours["shape"])
polars = median(r["polarsSeconds"] for r in peer)
polars_shape = median(r["polarsShapeSeconds"] for r in peer)
jq = median(r["jqSeconds"] for r in peer)
peak = max(r["peakRssKB"] for r in ours["groups"]) * 1024
shape_peak = max(r["peakRssKB"] for r in ours["shape"]) * 1024


summary = printer("data")
summary("group-by + sum + count, 500,000 records, end to end ÷ polars", "s", groups, polars, groups / polars, "<= 1.0")
summary("group-by + sum + count, 500,000 records, end to end ÷ jq", "s", groups, jq, groups / jq, "<= 0.05")
summary(f"peak RSS of the group-by ÷ input size ({size / 1e6:.1f} MB)", "MB", peak / 1e6, size / 1e6, peak / size, "< 2")
summary("groups and sums equal to polars' and jq's (relative 1e-9)", "bool", 1 if groups_agree else 0, None, None, "1")
summary("filter + transform (regexReplace, dateFormat, calculation) + select, written as JSON Lines, end to end ÷ polars", "s", shape, polars_shape, shape / polars_shape, "<= 1.5")
summary(f"peak RSS of the filter + transform ÷ input size ({size / 1e6:.1f} MB)", "MB", shape_peak / 1e6, size / 1e6, shape_peak / size, None)
summary("filter + transform output equal to polars' (every record, numbers to 1e-9)", "bool", 1 if shape_agree else 0, None, None, "1")
