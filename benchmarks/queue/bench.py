"""The queue suite's driver: a PostgreSQL server of its own, `offload worker` hosts, and figures
read from the jobs' history in the database's own clock (created_at, started_at, ended_at); for
Offload and pgqueuer alike, what the server spends per job (WAL bytes, statements, CPU seconds:
queuelib.ServerMeter), at 50,000 jobs and again at a larger size."""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
import time

import chaos
import peers
import search
from queuelib import CLEAR, SCHEMA, STARTS, ServerMeter, psql, start_host, stop_hosts, summary, wait_for, wait_until_completed


def peer_lines(url, jobs, data, peer="all"):
    """pgqueuer's and procrastinate's lines (peers.py, in its own virtualenv), printed as they are."""
    lines = peers.measure(url, jobs, peer=peer, meter_data=data)
    for line in lines:
        print(json.dumps(line), flush=True)
    return lines


def process_cpu_seconds(pid):
    """CPU seconds a live process has spent (user and system)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fan_lines(jobs, width=1_000):
    """JOBS debug.echo jobs in groups of WIDTH: a root, WIDTH - 2 jobs that depend on it (a
    fan-out) and one that depends on all of those (a fan-in), as job lines."""
    lines = []
    for _ in range(jobs // width):
        root = str(uuid.uuid4())
        middle = [str(uuid.uuid4()) for _ in range(width - 2)]
        lines.append(json.dumps({"id": root, "kind": "debug.echo", "payload": {}}))
        lines += [json.dumps({"id": id, "kind": "debug.echo", "payload": {}, "dependsOn": [root]}) for id in middle]
        lines.append(json.dumps({"kind": "debug.echo", "payload": {}, "dependsOn": middle}))
    return lines


def offload_run(offload, url, folder, meter, jobs, hosts, lines=None):
    """JOBS debug.echo jobs (or LINES) through the queue, submitted in batches, served by the
    running hosts: its line (rate in the database's clock, and what the server spent), printed."""
    psql(url, CLEAR)
    path = os.path.join(folder, "jobs.jsonl")
    with open(path, "w") as out:
        for index in range(jobs):
            out.write((lines[index] if lines else '{"kind":"debug.echo","payload":{}}') + "\n")
    meter.reset_statements()
    before = meter.snapshot()
    hosts_before = sum(process_cpu_seconds(host.pid) for host in hosts)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    submitted = subprocess.run([offload, "submit", path, "--queue", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if submitted.returncode != 0:
        sys.exit(f"queue: offload submit of {jobs:,} jobs failed ({submitted.returncode}): {submitted.stderr[-2000:]}")
    wait_until_completed(url, jobs, 1200)
    wall = time.monotonic() - started
    server = ServerMeter.per_job(before, meter.snapshot(), jobs)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # What the other side spends: the worker hosts, and `offload submit` (with the psql probes).
    server["hostsCpuSecondsPer1000Jobs"] = round((sum(process_cpu_seconds(host.pid) for host in hosts) - hosts_before) * 1000 / jobs, 3)
    server["submitCpuSecondsPer1000Jobs"] = round((children.ru_utime + children.ru_stime - children_before.ru_utime
                                                   - children_before.ru_stime) * 1000 / jobs, 3)
    seconds = float(psql(url, f"SELECT extract(epoch FROM max(ended_at) - min(created_at)) FROM {SCHEMA}.job_history WHERE ended"))
    once = psql(url, f"SELECT count(*) FROM (SELECT job_id FROM {STARTS} AS s GROUP BY job_id HAVING count(*) = 1) AS once")
    line = {"suite": "queue", "jobs": jobs, "seconds": round(seconds, 3), "wallSeconds": round(wall, 3), "jobsPerSecond": round(jobs / seconds, 1),
            "startedOnce": int(once), "server": server, "statements": meter.top_statements(jobs)}
    print(json.dumps(line), flush=True)
    return line


def paired_ratio(offload, url, folder, meter, jobs, hosts, on, off, rounds=3):
    """The rate with something on ÷ the rate without it, the two run back to back on the same
    server: the median of ROUNDS such pairs and each pair's ratio (what drifts over the suite, the
    machine or the server, is then in both sides of each)."""
    ratios = []
    for _ in range(rounds):
        off()
        plain = offload_run(offload, url, folder, meter, jobs, hosts)
        on()
        ratios.append(round(offload_run(offload, url, folder, meter, jobs, hosts)["jobsPerSecond"] / plain["jobsPerSecond"], 3))
    off()
    return statistics.median(ratios), ratios


def server_summaries(ours, theirs, size):
    """The per-job costs of the server, ours beside pgqueuer's."""
    def of(line, key):
        return line and line.get("server", {}).get(key)
    summary(f"WAL bytes per job ({size:,} jobs)", of(ours, "walBytesPerJob"), "bytes", "<= pgqueuer's",
            peer=of(theirs, "walBytesPerJob"), peer_name="pgqueuer")
    summary(f"statements per job ({size:,} jobs, pg_stat_statements)", of(ours, "statementsPerJob"), "statements", "context",
            peer=of(theirs, "statementsPerJob"), peer_name="pgqueuer")
    summary(f"PostgreSQL server CPU seconds per 1,000 jobs ({size:,} jobs)", of(ours, "serverCpuSecondsPer1000Jobs"), "s", "<= pgqueuer's",
            peer=of(theirs, "serverCpuSecondsPer1000Jobs"), peer_name="pgqueuer")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--offload", required=True)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--skip-peers", action="store_true", help="leave pgqueuer and procrastinate out")
    parser.add_argument("--skip-chaos", action="store_true", help="leave the chaos lines out")
    parser.add_argument("--large", type=int, default=200_000, help="the second size, to show the rate holds as tables grow (0: none)")
    parser.add_argument("--search-rows", type=int, default=1_000_000, help="the history searched by text (0: no search lines)")
    args = parser.parse_args()
    offload = os.path.abspath(args.offload)
    folder = tempfile.mkdtemp(prefix="offload-queue-bench-")
    os.chmod(folder, 0o755)  # the server runs as the postgres user when this runs as root
    server = os.path.join(folder, "pg")
    os.environ["OFFLOAD_PG_OPTIONS"] = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    url = subprocess.run(["scripts/postgres-server", "start", server], capture_output=True, text=True, check=True).stdout.strip()
    hosts = []
    try:
        psql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        meter = ServerMeter(url, os.path.join(server, "data"))
        data = os.path.join(server, "data")
        subprocess.run([offload, "migrate", "--queue", url], check=True, stdout=subprocess.DEVNULL)
        hosts = [start_host(offload, url, folder, f"host{i}") for i in (1, 2)]
        wait_for(url, f"SELECT count(*) = 2 FROM {SCHEMA}.hosts", 30)

        # Throughput: the whole file in batches of 500, two hosts serving.
        ours = offload_run(offload, url, folder, meter, args.jobs, hosts)
        peer_runs = [] if args.skip_peers else peer_lines(url, args.jobs, data)
        fastest = max(peer_runs, key=lambda line: line["jobsPerSecond"], default=None)
        summary(f"{args.jobs:,} debug.echo jobs, batches of 500, 2 worker hosts (2 thread workers, 64 claimed ahead, each): jobs/s from first submit to last completion",
                ours["jobsPerSecond"], "jobs/s", ">= 1.5 × the faster of pgqueuer and procrastinate",
                peer=fastest and fastest["jobsPerSecond"], peer_name=fastest and fastest["peer"])
        pgqueuer = next((line for line in peer_runs if line["peer"] == "pgqueuer"), None)
        server_summaries(ours, pgqueuer, args.jobs)

        # What schedules and global limits cost the claim, each run back to back with the plain
        # rate (paired_ratio): 1,000 schedules (daily, none due) that every host looks at each
        # second; a limit on running debug.echo jobs across hosts. For the queue a job runs until
        # its end is recorded, so a host holds up to 66 claimed jobs and up to 1,000 ended ones
        # whose ends wait to be written (QueueServerState.maxUnwrittenEnds): 4,096 is above what
        # two hosts can hold, and costs its counters without holding a job back; 256 holds jobs
        # back (context).
        lines = "".join(
            f'{{"name":"bench-{n}","cron":"{n % 60} {n % 24} * * *","job":{{"kind":"debug.echo","payload":{{}}}}}}\n' for n in range(1_000))
        schedules = os.path.join(folder, "schedules.jsonl")
        with open(schedules, "w") as out:
            out.write(lines)
        ratio, pairs = paired_ratio(
            offload, url, folder, meter, args.jobs, hosts,
            on=lambda: subprocess.run([offload, "schedules", "add", schedules, "--diagnostics", "--queue", url], check=True,
                                      stdout=subprocess.DEVNULL),
            off=lambda: psql(url, f"DELETE FROM {SCHEMA}.schedules"))
        summary(f"{args.jobs:,} jobs with 1,000 schedules: jobs/s ÷ the rate without, run just before (median of {len(pairs)} pairs)",
                ratio, "ratio", ">= 0.85", pairs=pairs)
        def limit_to(*value):
            subprocess.run([offload, "kinds", "limit", "debug.echo", *value, "--queue", url], check=True, stdout=subprocess.DEVNULL)
        for limit, goal in ((4_096, ">= 0.85"), (256, "context")):
            ratio, pairs = paired_ratio(offload, url, folder, meter, args.jobs, hosts,
                                        on=lambda limit=limit: limit_to("--max-concurrent", str(limit)), off=limit_to)
            summary(f"{args.jobs:,} jobs of a kind with a global limit of {limit:,} running jobs: jobs/s ÷ the rate without, "
                    f"run just before (median of {len(pairs)} pairs)", ratio, "ratio", goal, pairs=pairs)
        # Dependencies: the same number of jobs in fan-outs and fan-ins of 1,000 (each fan-in job
        # waits for 998 others); a claim reads no edge, an end releases its dependents.
        fanned = offload_run(offload, url, folder, meter, args.jobs, hosts, lines=fan_lines(args.jobs))
        summary(f"{args.jobs:,} jobs in fan-outs and fan-ins of 1,000 (dependsOn): jobs/s ÷ the rate without",
                round(fanned["jobsPerSecond"] / ours["jobsPerSecond"], 3), "ratio", "context")
        summary(f"{args.jobs:,} jobs in fan-outs and fan-ins of 1,000: statements per job (pg_stat_statements, the trigger's included)",
                fanned["server"]["statementsPerJob"], "statements",
                "<= 1 (no statement per edge: a claim reads none, an end's release is one statement for its batch)",
                peer=ours["server"]["statementsPerJob"], peer_name="the same jobs without dependencies")

        # The larger size: the rate must not fall as the tables grow. It is divided by the smaller
        # size run again just before it, on the server as the suite's runs so far (the peers'
        # among them) have left it: the ratio is of the size alone.
        if args.large:
            before = offload_run(offload, url, folder, meter, args.jobs, hosts)
            large = offload_run(offload, url, folder, meter, args.large, hosts)
            peer_before = None if args.skip_peers else next(iter(peer_lines(url, args.jobs, data, peer="pgqueuer")), None)
            large_peer = None if args.skip_peers else next(iter(peer_lines(url, args.large, data, peer="pgqueuer")), None)
            summary(f"{args.large:,} jobs: jobs/s ÷ the rate at {args.jobs:,} run just before", round(large["jobsPerSecond"] / before["jobsPerSecond"], 3),
                    "ratio", ">= 0.9")
            if large_peer and peer_before:
                summary(f"pgqueuer, {args.large:,} jobs: jobs/s ÷ its rate at {args.jobs:,} run just before",
                        round(large_peer["jobsPerSecond"] / peer_before["jobsPerSecond"], 3), "ratio", "context")
            summary(f"{args.large:,} debug.echo jobs: jobs/s", large["jobsPerSecond"], "jobs/s", ">= 1.5 × pgqueuer's",
                    peer=large_peer and large_peer["jobsPerSecond"], peer_name="pgqueuer")
            server_summaries(large, large_peer, args.large)

        # Latency: one job at a time on an idle host (the other stopped), inserted by psql.
        hosts[1].terminate()
        hosts[1].wait(timeout=60)
        psql(url, CLEAR)
        insert = (f"INSERT INTO {SCHEMA}.jobs (id, kind, priority, payload, state, max_attempts, retry_initial_ms, retry_multiplier, "
                  f"retry_max_ms, retry_jitter, run_at, rank) VALUES (gen_random_uuid(), 'debug.echo', 1, '{{}}', 'available', 1, "
                  f"100, 2, 30000, 0.2, now(), now() - interval '10 seconds');\nSELECT pg_sleep(0.02);\n")
        script = os.path.join(folder, "latency.sql")
        with open(script, "w") as out:
            out.write(insert * 1000)
        subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", script], check=True, stdout=subprocess.DEVNULL)
        wait_until_completed(url, 1000, 120)
        p50, p99 = psql(url, f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) || ' ' || percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) "
                             f"FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM {SCHEMA}.job_history) AS t").split()
        summary("submit → start of one job on an idle host (LISTEN/NOTIFY), p50 over 1,000 jobs", round(float(p50), 3), "ms", "<= 3")
        summary("submit → start of one job on an idle host (LISTEN/NOTIFY), p99 over 1,000 jobs", round(float(p99), 3), "ms", "context")
        stop_hosts(hosts)

        # Search on a history of a million jobs (GET /v1/jobs?q=, through the trigram index).
        if args.search_rows:
            search.search_lines(offload, url, args.search_rows)

        if not args.skip_chaos:
            chaos.run(offload, url, folder, server)
    finally:
        stop_hosts(hosts)
        subprocess.run(["scripts/postgres-server", "stop", server], check=False)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
