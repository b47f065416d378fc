"""The analytics suite's peer: polars on the same events (hourly buckets × event type: count,
p95 of durationMs with linear interpolation, unique sessions); time after import. Writes its
buckets for the comparison and prints one JSON line."""
import json
import sys
import time

import polars as pl

path, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
frame = pl.read_ndjson(path)
series = (frame.with_columns((pl.col("timestamp") // 3600 * 3600).alias("bucket"))
          .group_by(["bucket", "eventType"])
          .agg(pl.len().alias("events"), pl.col("durationMs").quantile(0.95, "linear").alias("p95"),
               pl.col("sessionId").n_unique().alias("sessions")))
seconds = time.perf_counter() - start
json.dump({f'{row["bucket"]}|{row["eventType"]}': [row["events"], row["p95"], row["sessions"]] for row in series.to_dicts()},
          open(f"{out}/polars.json", "w"))
print(json.dumps({"suite": "analytics", "side": "peer", "polarsSeconds": seconds, "events": frame.height}), flush=True)
