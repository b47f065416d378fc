"""What the queue suite's parts share: psql, the offload worker hosts, waiting on the database,
and the summary lines."""
import json
import os
import subprocess
import sys
import time

SCHEMA = "offload"
# Queries of the suite itself carry this mark, so that the statements it counts are the queue's.
MARK = "/* offload-bench */"


def psql(url, sql, *extra):
    run = subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *extra, "-c", sql],
                         capture_output=True, text=True, check=True)
    return run.stdout.strip()


def summary(figure, ours, unit, goal, peer=None, peer_name=None, **extra):
    line = {"suite": "queue", "figure": figure, "unit": unit, "ours": ours, "peer": peer,
            "ratio": None if peer in (None, 0) else round(ours / peer, 3), "goal": goal}
    if peer_name:
        line["peerName"] = peer_name
    line.update(extra)
    print(json.dumps(line), flush=True)


def start_host(offload, url, folder, name, *extra):
    """An `offload worker` host (2 thread workers, 64 claimed ahead) logging to FOLDER/NAME/log."""
    path = os.path.join(folder, name)
    os.makedirs(path, exist_ok=True)
    log = open(os.path.join(path, "log"), "a")
    return subprocess.Popen([offload, "worker", "--queue", url, "--isolation", "thread", "--workers", "2",
                             "--claim-ahead", "64", "--diagnostics", *extra], cwd=path, stdout=log, stderr=log)


def stop_hosts(hosts):
    for host in hosts:
        if host.poll() is None:
            host.terminate()
            try:
                host.wait(timeout=60)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()


def wait_for(url, condition, timeout):
    """Waits until the query CONDITION answers true; a query that fails (the server restarting)
    counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psql(url, condition) == "t":
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.2)
    sys.exit(f"queue: timed out after {timeout} s waiting for {condition}")


# Every job and its history gone, between two runs.
CLEAR = f"TRUNCATE {SCHEMA}.jobs, {SCHEMA}.job_history, {SCHEMA}.job_steps, {SCHEMA}.job_dependencies"
# Each attempt that started (a history row with a start, or a start a history row does not show:
# a claim handed back, a restart within an attempt), one row per start.
STARTS = (f"(SELECT job_id FROM {SCHEMA}.job_history WHERE started_at IS NOT NULL "
          f"UNION ALL SELECT job_id FROM {SCHEMA}.job_steps WHERE type = 'started')")


def wait_until_completed(url, count, timeout=300):
    """Waits until COUNT jobs have completed (each is then a row of the history)."""
    wait_for(url, f"{MARK} SELECT count(*) >= {count} FROM {SCHEMA}.job_history WHERE ended AND state = 'completed'", timeout)


class ServerMeter:
    """What the PostgreSQL server spends while a queue runs: WAL bytes (pg_current_wal_lsn),
    statements (pg_stat_statements, the suite's own marked queries left out) and CPU seconds of
    the server's processes (/proc: the live ones, and those the postmaster has reaped)."""

    def __init__(self, url, data_dir):
        self.url = url
        with open(os.path.join(data_dir, "postmaster.pid")) as pid_file:
            self.postmaster = int(pid_file.readline())
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _cpu_seconds(self):
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            ppid, utime, stime, cutime, cstime = int(fields[1]), int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])
            if int(entry) == self.postmaster:
                total += utime + stime + cutime + cstime
            elif ppid == self.postmaster:
                total += utime + stime
        return total / self.ticks

    def snapshot(self):
        wal, calls = psql(self.url, f"{MARK} SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, "
                                    f"(SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query NOT LIKE '%offload-bench%')").split("|")
        return {"wal": int(float(wal)), "statements": int(calls), "cpu": self._cpu_seconds()}

    def reset_statements(self):
        psql(self.url, f"{MARK} SELECT pg_stat_statements_reset()")

    def top_statements(self, jobs, count=8):
        """The queue's statements that cost the server most since the last reset: calls and
        milliseconds per 1,000 jobs, and the statement's first words."""
        rows = psql(self.url, f"{MARK} SELECT calls, round(total_exec_time::numeric, 1), "
                              f"regexp_replace(left(regexp_replace(query, '\\s+', ' ', 'g'), 110), '\\|', '/', 'g') "
                              f"FROM pg_stat_statements WHERE query NOT LIKE '%offload-bench%' ORDER BY total_exec_time DESC LIMIT {count}")
        lines = []
        for row in rows.splitlines():
            calls, ms, text = row.split("|", 2)
            lines.append({"callsPer1000Jobs": round(int(calls) * 1000 / jobs, 1), "msPer1000Jobs": round(float(ms) * 1000 / jobs, 2),
                          "statement": text})
        return lines

    @staticmethod
    def per_job(before, after, jobs):
        """WAL bytes and statements per job, server CPU seconds per 1,000 jobs, between two snapshots."""
        return {"walBytesPerJob": round((after["wal"] - before["wal"]) / jobs, 1),
                "statementsPerJob": round((after["statements"] - before["statements"]) / jobs, 3),
                "serverCpuSecondsPer1000Jobs": round((after["cpu"] - before["cpu"]) * 1000 / jobs, 3)}
