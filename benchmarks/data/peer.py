"""The data suite's peers on the same file and the same questions: group by country (sum of
amount, count) with polars (read_ndjson + group_by; time after import) and jq (the whole
command); filter + transform + select written as JSON Lines with polars. Prints one JSON line,
and writes each peer's output for the comparison."""
import json
import subprocess
import sys
import time

import polars as pl

path, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
frame = pl.read_ndjson(path)
groups = frame.group_by("country").agg(pl.col("amount").sum().alias("total"), pl.len().alias("n"))
polars_seconds = time.perf_counter() - start
json.dump({row["country"]: [row["total"], row["n"]] for row in groups.to_dicts()}, open(f"{out}/polars.json", "w"))

start = time.perf_counter()
shaped = (pl.read_ndjson(path).filter(pl.col("amount") >= 100)
          .with_columns(pl.col("country").str.replace(r"^([A-Z])([A-Z])$", "$2$1").alias("code"),
                        pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%d %H:%M").alias("time"),
                        (pl.col("amount") * pl.col("quantity")).alias("total"))
          .select(["id", "code", "time", "total"]))
shaped.write_ndjson(f"{out}/polars-shape.jsonl")
shape_seconds = time.perf_counter() - start

start = time.perf_counter()
jq = subprocess.run(["jq", "-n", "-c", "reduce inputs as $r ({}; .[$r.country] += {total: ((.[$r.country].total // 0) + $r.amount), n: ((.[$r.country].n // 0) + 1)})", path],
                    check=True, capture_output=True, text=True)
jq_seconds = time.perf_counter() - start
json.dump({k: [v["total"], v["n"]] for k, v in json.loads(jq.stdout).items()}, open(f"{out}/jq.json", "w"))
print(json.dumps({"suite": "data", "side": "peer", "polarsSeconds": polars_seconds, "polarsShapeSeconds": shape_seconds, "jqSeconds": jq_seconds}), flush=True)
