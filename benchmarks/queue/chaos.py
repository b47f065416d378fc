"""The queue suite's chaos lines: jobs that must all complete while a host is killed with
SIGKILL and restarted, while PostgreSQL restarts, and while every connection is terminated.
Counts come from the jobs' history: a job is lost when it never completes, and run twice when two
of its attempts started; only jobs a killed host held may run twice."""
import json
import os
import signal
import subprocess
import time

from queuelib import CLEAR, SCHEMA, STARTS, psql, start_host, stop_hosts, wait_until_completed

JOBS = 10_000
# Short jobs, so that a run lasts long enough for a fault in its middle.
# Two retries: a job rescued from a killed host runs again (its attempt is counted).
JOB = '{"kind":"debug.sleep","maxRetries":2,"payload":{"ms":2}}\n'
LEASE_MS = "3000"


def submit(offload, url, folder):
    jobs = os.path.join(folder, "chaos.jsonl")
    with open(jobs, "w") as out:
        out.write(JOB * JOBS)
    subprocess.run([offload, "submit", jobs, "--queue", url], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def counts(url):
    row = psql(url, f"""
        WITH ids AS (SELECT id FROM {SCHEMA}.jobs UNION SELECT job_id FROM {SCHEMA}.job_history),
             s AS (SELECT job_id, count(*) AS started FROM {STARTS} AS starts GROUP BY job_id),
             c AS (SELECT job_id, count(*) FILTER (WHERE state = 'completed') AS ended FROM {SCHEMA}.job_history GROUP BY job_id)
        SELECT count(*) FILTER (WHERE c.ended >= 1),
               count(*) FILTER (WHERE coalesce(c.ended, 0) = 0),
               count(*) FILTER (WHERE s.started = 1),
               count(*) FILTER (WHERE s.started = 2),
               count(*) FILTER (WHERE s.started > 2),
               count(*) FILTER (WHERE coalesce(c.ended, 0) <> 1)
        FROM ids LEFT JOIN s ON s.job_id = ids.id LEFT JOIN c ON c.job_id = ids.id""")
    done, lost, once, twice, more, not_once = (int(x) for x in row.split("|"))
    return {"completed": done, "lost": lost, "startedOnce": once, "startedTwice": twice, "startedMore": more,
            "completedEventsNotOne": not_once}


def through(offload, url, folder, fault, name):
    """Runs JOBS jobs on two hosts, calls FAULT(hosts) once a third have completed, waits for all
    and prints the line (with what FAULT returned)."""
    psql(url, CLEAR)
    hosts = [start_host(offload, url, folder, f"chaos{i}", "--lease-ms", LEASE_MS) for i in (1, 2)]
    try:
        started = time.monotonic()
        submit(offload, url, folder)
        wait_until_completed(url, JOBS // 3)
        extra = fault(hosts)
        wait_until_completed(url, JOBS)
        seconds = time.monotonic() - started
        figures = counts(url)
        extra = extra() if callable(extra) else extra
        print(json.dumps({"suite": "queue", "chaos": name, "jobs": JOBS, "seconds": round(seconds, 2), **figures, **extra}), flush=True)
    finally:
        stop_hosts(hosts)


def run(offload, url, folder, server):
    def kill_host(hosts):
        # The jobs the host holds as it dies (running in the pool or claimed ahead) may run twice.
        owner = psql(url, f"SELECT id FROM {SCHEMA}.hosts WHERE id LIKE '%:{hosts[0].pid}:%'")
        hosts[0].send_signal(signal.SIGKILL)
        hosts[0].wait()
        held = set(psql(url, f"SELECT id FROM {SCHEMA}.jobs WHERE state = 'running' AND lease_owner = '{owner}'").split())
        hosts[0] = start_host(offload, url, folder, "chaos1", "--lease-ms", LEASE_MS)

        def twice():
            again = set(psql(url, f"SELECT job_id FROM {STARTS} AS s GROUP BY job_id HAVING count(*) > 1").split())
            return {"heldAtKill": len(held), "twiceNotHeld": len(again - held)}
        return twice

    def restart_server(hosts):
        subprocess.run(["scripts/postgres-server", "restart", server], check=True)
        return {}

    def terminate_connections(hosts):
        terminated = psql(url, """SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                  WHERE pid <> pg_backend_pid() AND backend_type = 'client backend') AS t""")
        return {"terminated": int(terminated)}

    through(offload, url, folder, kill_host, "one of 2 hosts kill -9ed at a third and restarted")
    through(offload, url, folder, restart_server, "PostgreSQL restarted (pg_ctl restart -m fast) at a third")
    through(offload, url, folder, terminate_connections, "every connection terminated (pg_terminate_backend) at a third")
