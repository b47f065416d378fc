"""Search on a large history: 1,000,000 ended jobs written straight into the queue's history,
then `GET /v1/jobs?q=` of an `offload serve --queue` timed for a rare word (read through the
trigram index), a common one (the newest jobs that hold it) and an id's first characters."""
import json
import os
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))
from serve import Serve  # noqa: E402

from queuelib import CLEAR, SCHEMA, psql, summary  # noqa: E402

# The history's columns as the queue writes them (HistoryRow.columns in OffloadPostgres).
COLUMNS = ("job_id, attempt, state, ended, host, started_at, ended_at, ready_at, retry_at, error_code, error_message, result, "
           "job_seq, kind, priority, payload, max_attempts, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, "
           "timeout_ms, capabilities, unique_key, created_at, tags")
RARE = "Zanzibar Trading"


def fill(url, rows, chunk=250_000):
    """ROWS completed debug.echo jobs; one in every 250,000 names RARE, the others a numbered customer."""
    psql(url, CLEAR)
    for start in range(1, rows + 1, chunk):
        psql(url, f"""
            INSERT INTO {SCHEMA}.job_history ({COLUMNS})
            SELECT gen_random_uuid(), 1, 'completed', true, 'h', now(), now(), now(), NULL, NULL, NULL, NULL, n, 'debug.echo', 2,
                   json_build_object('customer', CASE WHEN n % 250000 = 777 THEN '{RARE}' ELSE 'customer ' || n END, 'n', n),
                   1, 100, 2, 1000, 0, NULL, '{{}}', NULL, now(), '{{}}'
            FROM generate_series({start}, {min(start + chunk - 1, rows)}) AS n""")
    psql(url, f"ANALYZE {SCHEMA}.job_history")


def timed(serve, query, times=20):
    """The p50 of TIMES requests of /v1/jobs?q=QUERY in milliseconds, and the jobs the last listed."""
    durations = []
    listed = 0
    for _ in range(times):
        started = time.perf_counter()
        status, body = serve.request("GET", "/v1/jobs?q=" + urllib.parse.quote(query))
        durations.append((time.perf_counter() - started) * 1000)
        if status != 200:
            sys.exit(f"queue: search for {query!r} answered {status}: {body[:500]!r}")
        listed = len(json.loads(body)["jobs"])
    return round(statistics.median(durations), 2), listed


def search_lines(offload, url, rows=1_000_000):
    fill(url, rows)
    serve = Serve(offload, "--queue", url, "--isolation", "thread", "--workers", "1")
    try:
        prefix = psql(url, f"SELECT left(job_id::text, 8) FROM {SCHEMA}.job_history ORDER BY seq LIMIT 1 OFFSET {rows // 2}")
        rare = len(range(777, rows + 1, 250_000))
        for name, query in ((f"a rare word ({rare} of the jobs hold it)", RARE.split()[0].lower()), ("a common word (every job)", "customer"),
                            ("the first 8 characters of an id", prefix)):
            ms, listed = timed(serve, query)
            summary(f"GET /v1/jobs?q= on a history of {rows:,} jobs, {name}: p50 of 20 ({listed} listed)", ms, "ms", "<= 100")
    finally:
        serve.stop()
    psql(url, CLEAR)
