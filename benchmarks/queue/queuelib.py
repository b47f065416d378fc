"""What the queue suite's parts share: psql, the offload worker hosts, waiting on the database,
and the summary lines."""
import json
import os
import subprocess
import sys
import time

SCHEMA = "offload"


def psql(url, sql, *extra):
    run = subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *extra, "-c", sql],
                         capture_output=True, text=True, check=True)
    return run.stdout.strip()


def summary(figure, ours, unit, goal, peer=None, peer_name=None):
    line = {"suite": "queue", "figure": figure, "unit": unit, "ours": ours, "peer": peer,
            "ratio": None if peer in (None, 0) else round(ours / peer, 3), "goal": goal}
    if peer_name:
        line["peerName"] = peer_name
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


def wait_until_completed(url, count, timeout=300):
    """Waits until COUNT jobs have completed."""
    wait_for(url, f"SELECT count(*) >= {count} FROM {SCHEMA}.jobs WHERE state = 'completed'", timeout)
