"""The queue suite's peers: pgqueuer and procrastinate doing the same no-op jobs as `offload worker`.

    python3 benchmarks/queue/peers.py --url POSTGRES_URL --jobs N [--peer pgqueuer|procrastinate|all]

For each peer, on the server at POSTGRES_URL: a database of its own (dropped and created anew, so the
`offload` schema in `postgres` is left alone), the peer's schema installed by its own API, 2 worker
processes started with the peer's own CLI (its normal worker loop; ours are 2 hosts × 2 thread workers:
procrastinate runs 2 jobs at a time in each, pgqueuer whatever its dequeue batch of 10 brings, see
PGQUEUER_MAX_CONCURRENT_TASKS) and waited for until ready, then N no-op jobs submitted in batches of 500
with the peer's bulk enqueue API. Measured from the first submit to the last completion in the
database's own times (both peers record them: see measure_pgqueuer and measure_procrastinate), with
the wall clock from the first submit until the peer's tables showed all N done printed beside it.
One JSON line per peer goes to stdout; everything else to stderr.

The peers come from PyPI at the versions in requirements.txt beside this file, installed on first use
into .build/peers-venv (python3 -m venv, pip install -r), after which the script re-executes itself
with that venv's python. bench.py can also import this file and call `measure(url, jobs, peer)`,
which does the same in a subprocess and returns the parsed lines.

This module imports only the standard library at its top: the workers import it too (the pgqueuer
factory and the procrastinate app live here), and the driver imports it outside the venv.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from queuelib import MARK, ServerMeter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
VENV = ROOT / ".build" / "peers-venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements-sha256"

PEERS = ("pgqueuer", "procrastinate")
# What the server spends during a peer's run (queuelib.ServerMeter), when --meter-data names its data folder.
METER = None
BATCH = 500  # jobs per submit, as `offload submit` does
WORKERS = 2  # worker processes, as the suite's 2 `offload worker` hosts
CONCURRENCY = 2  # jobs at a time per process, as each host's 2 thread workers
# pgqueuer: jobs taken per dequeue query (its default, 10; ours take up to free workers + --claim-ahead 16
# = 18), and its optional cap on the jobs a process holds at once (--max-concurrent-tasks; none by
# default). pgqueuer runs every job it holds at once as an asyncio task, so it has no "2 at a time"
# setting: the nearest is that cap, which it requires to be at least 2 × the batch (so 20 with batch 10;
# 2 would force batch 1 and one dequeue per job). The cap adds per-worker budget CTEs to its dequeue
# query and, on 50,000 no-op jobs, measured 1.9 × slower here (3,059 against 5,758 jobs/s on an idle
# machine), while holding fewer jobs gains nothing, so its default (no cap) is the one measured;
# --pgqueuer-max-concurrent-tasks 20 gives the mirrored one.
PGQUEUER_BATCH_SIZE = 10
PGQUEUER_MAX_CONCURRENT_TASKS = None
TIMEOUT = 600.0  # seconds, for each peer's run; workers are killed when it runs out
READY_TIMEOUT = 60.0
POLL = 0.05

ENV_URL = "OFFLOAD_PEERS_URL"  # the workers' database
ENV_READY = "OFFLOAD_PEERS_READY"  # a folder where a pgqueuer worker leaves a file once it listens


class Failure(Exception):
    """A sentence saying what went wrong, for stderr and a non-zero exit."""


def log(*parts):
    print("peers:", *parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# The virtualenv


def requirements_digest():
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def venv_is_current():
    return VENV_PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == requirements_digest()


def ensure_venv():
    """Creates or updates .build/peers-venv from requirements.txt unless it already matches it."""
    if venv_is_current():
        return
    started = time.monotonic()
    try:
        if not VENV_PYTHON.exists() or subprocess.run([str(VENV_PYTHON), "-c", "pass"], capture_output=True).returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            VENV.parent.mkdir(parents=True, exist_ok=True)
            log(f"creating the virtualenv {VENV}")
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, stdout=sys.stderr)
        log(f"installing {REQUIREMENTS.name} into it")
        subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
                        "-r", str(REQUIREMENTS)], check=True, stdout=sys.stderr)
    except (OSError, subprocess.CalledProcessError) as error:
        raise Failure(f"could not install the peers into {VENV} from {REQUIREMENTS} ({error})") from error
    STAMP.write_text(requirements_digest() + "\n")
    log(f"virtualenv ready in {time.monotonic() - started:.1f} s")


def in_venv():
    return Path(sys.prefix).resolve() == VENV.resolve()


# ---------------------------------------------------------------------------------------------------
# What the workers import: the pgqueuer factory (`pgq run peers:pgqueuer_factory`) and the procrastinate
# app (`procrastinate --app peers.procrastinate_app`), both on the database in $OFFLOAD_PEERS_URL.


@contextlib.asynccontextmanager
async def pgqueuer_factory():
    import asyncio
    from datetime import timedelta

    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.errors import FailingListenerError

    connection = await asyncpg.connect(os.environ[ENV_URL])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job):
        pass

    async def announce_when_listening():
        # pgqueuer's own listener probe (a NOTIFY round trip through its LISTEN channel) succeeds once
        # the queue manager listens; its first dequeue follows at once.
        while True:
            try:
                await pgq.qm.listener_healthy(timeout=timedelta(seconds=0.5))
                break
            except FailingListenerError:
                continue
        Path(os.environ[ENV_READY], str(os.getpid())).touch()

    announcer = asyncio.create_task(announce_when_listening())
    try:
        yield pgq
    finally:
        announcer.cancel()
        with contextlib.suppress(BaseException):
            await announcer
        with contextlib.suppress(Exception):
            await connection.close()


_procrastinate = None


def make_procrastinate_app():
    global _procrastinate
    if _procrastinate is None:
        import procrastinate

        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ[ENV_URL]))

        @app.task(name="noop")
        async def noop():
            pass

        _procrastinate = app
    return _procrastinate


def __getattr__(name):
    # `procrastinate --app peers.procrastinate_app` wants an App attribute; make it on first use, so
    # that importing this module needs nothing outside the standard library.
    if name == "procrastinate_app":
        return make_procrastinate_app()
    raise AttributeError(name)


# ---------------------------------------------------------------------------------------------------
# The runs


def database_url(url, name):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def recreate_database(url, name):
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url, name):
    import psycopg

    with contextlib.suppress(Exception):
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scalar(connection, sql):
    return connection.execute(sql).fetchone()[0]


def die_with_parent():
    """In a worker, before exec: SIGKILL when this script dies, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


class Workers:
    """The peer's worker processes, each in a session of its own, its output in a log file."""

    def __init__(self, folder):
        self.folder = folder
        self.processes = []

    def start(self, name, command, env):
        path = os.path.join(self.folder, f"{name}.log")
        with open(path, "w") as out:
            process = subprocess.Popen(command, cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                       start_new_session=True, preexec_fn=die_with_parent)
        self.processes.append((name, process, path))

    def check_alive(self):
        for name, process, path in self.processes:
            if process.poll() is not None:
                raise Failure(f"worker {name} exited early with status {process.returncode}; its log ends:\n{tail(path)}")

    def cpu_seconds(self):
        """Each worker's CPU time so far (Linux), to show on stderr that both did their share."""
        times = {}
        for name, process, _ in self.processes:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                times[name] = round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
        return times

    def stop(self):
        for _, process, _ in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process, _ in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = []


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip() or "(empty)"
    except OSError:
        return "(no log)"


def wait_until(description, condition, since, timeout, workers):
    deadline = since + timeout
    while True:
        if condition():
            return
        workers.check_alive()
        if time.monotonic() > deadline:
            raise Failure(f"timed out waiting for {description} (the limit is {timeout:g} s)")
        time.sleep(POLL)


def worker_env(url, ready):
    env = dict(os.environ)
    env[ENV_URL] = url
    env[ENV_READY] = ready
    env["PYTHONPATH"] = str(HERE) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_pgqueuer(url, jobs, folder):
    """pgqueuer: asyncpg driver (its quick start's and its own benchmark's default), `pgq run` workers,
    `Queries.enqueue` with lists. It deletes a job from its queue table when done and writes a row per
    change to pgqueuer_log (created = now() of that transaction): 'queued' at insert, 'successful' when
    the worker's batched status buffer is flushed — the database's own times."""
    import asyncio

    import asyncpg
    import psycopg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    async def install():
        connection = await asyncpg.connect(url)
        try:
            await Queries(AsyncpgDriver(connection)).install()
        finally:
            await connection.close()

    asyncio.run(install())
    ready = os.path.join(folder, "ready")
    os.makedirs(ready)
    pgq = VENV / "bin" / "pgq"
    workers = Workers(folder)
    try:
        for i in range(1, WORKERS + 1):
            cap = ["--max-concurrent-tasks", str(PGQUEUER_MAX_CONCURRENT_TASKS)] if PGQUEUER_MAX_CONCURRENT_TASKS else []
            workers.start(f"pgqueuer-{i}", [str(pgq), "run", "peers:pgqueuer_factory", "--batch-size", str(PGQUEUER_BATCH_SIZE),
                                             *cap, "--log-level", "WARNING"], worker_env(url, ready))
        wait_until(f"its {WORKERS} workers to listen", lambda: len(os.listdir(ready)) >= WORKERS,
                   time.monotonic(), READY_TIMEOUT, workers)

        async def submit():
            connection = await asyncpg.connect(url)
            try:
                queries = Queries(AsyncpgDriver(connection))
                for start in range(0, jobs, BATCH):
                    n = min(BATCH, jobs - start)
                    await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
            finally:
                await connection.close()

        with psycopg.connect(url, autocommit=True) as db:
            before = METER and METER.snapshot()
            started = time.monotonic()
            asyncio.run(submit())
            log(f"pgqueuer: submitted {jobs} jobs in {time.monotonic() - started:.2f} s")
            done = f"{MARK} SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"
            wait_until(f"all {jobs} jobs to finish", lambda: scalar(db, done) >= jobs, started, TIMEOUT, workers)
            wall = time.monotonic() - started
            server = METER and METER.per_job(before, METER.snapshot(), jobs)
            log(f"pgqueuer: done; worker CPU seconds {workers.cpu_seconds()}")
            seconds, completed, failed = db.execute(
                "SELECT extract(epoch FROM max(created) FILTER (WHERE status = 'successful') "
                "                        - min(created) FILTER (WHERE status = 'queued')), "
                "       count(*) FILTER (WHERE status = 'successful'), "
                "       count(*) FILTER (WHERE status NOT IN ('queued', 'picked', 'successful')) "
                "FROM pgqueuer_log").fetchone()
            left = scalar(db, "SELECT count(*) FROM pgqueuer")
    finally:
        workers.stop()
    if failed or left:
        raise Failure(f"pgqueuer ended {failed} jobs otherwise than successfully and left {left} in its queue")
    return float(seconds), wall, int(completed), server


def run_procrastinate(url, jobs, folder):
    """procrastinate: PsycopgConnector, `procrastinate worker --concurrency 2`, `Task.batch_defer_async`.
    It keeps finished jobs (status 'succeeded') and its triggers write procrastinate_events rows
    (at = now() of that transaction): 'deferred' at insert, 'started', 'succeeded' — the database's own
    times."""
    import asyncio

    import psycopg

    os.environ[ENV_URL] = url
    # The app as the workers load it (module `peers`, not `__main__`, which procrastinate warns about).
    sys.path.insert(0, str(HERE))
    import peers

    app = peers.procrastinate_app

    async def install():
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    asyncio.run(install())
    command = str(VENV / "bin" / "procrastinate")
    workers = Workers(folder)
    try:
        for i in range(1, WORKERS + 1):
            workers.start(f"procrastinate-{i}", [command, "--app", "peers.procrastinate_app", "--log-level", "warning",
                                                  "worker", "--name", f"worker-{i}", "--concurrency", str(CONCURRENCY)],
                          worker_env(url, ""))
        with psycopg.connect(url, autocommit=True) as db:
            wait_until(f"its {WORKERS} workers to register",
                       lambda: scalar(db, "SELECT count(*) FROM procrastinate_workers") >= WORKERS,
                       time.monotonic(), READY_TIMEOUT, workers)

            async def submit():
                task = app.tasks["noop"]
                async with app.open_async():
                    for start in range(0, jobs, BATCH):
                        await task.batch_defer_async(*({} for _ in range(min(BATCH, jobs - start))))

            before = METER and METER.snapshot()
            started = time.monotonic()
            asyncio.run(submit())
            log(f"procrastinate: submitted {jobs} jobs in {time.monotonic() - started:.2f} s")
            done = f"{MARK} SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            wait_until(f"all {jobs} jobs to finish", lambda: scalar(db, done) >= jobs, started, TIMEOUT, workers)
            wall = time.monotonic() - started
            server = METER and METER.per_job(before, METER.snapshot(), jobs)
            log(f"procrastinate: done; worker CPU seconds {workers.cpu_seconds()}")
            seconds, completed = db.execute(
                "SELECT extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded') "
                "                        - min(at) FILTER (WHERE type = 'deferred')), "
                "       count(*) FILTER (WHERE type = 'succeeded') "
                "FROM procrastinate_events").fetchone()
            other = scalar(db, "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'")
            twice = scalar(db, "SELECT count(*) FROM (SELECT job_id FROM procrastinate_events WHERE type = 'started' "
                               "GROUP BY job_id HAVING count(*) > 1) AS t")
    finally:
        workers.stop()
    if other or twice:
        raise Failure(f"procrastinate left {other} jobs not succeeded and started {twice} more than once")
    return float(seconds), wall, int(completed), server


RUNS = {"pgqueuer": run_pgqueuer, "procrastinate": run_procrastinate}
SETTINGS = {  # what each line says of how its peer ran, beside the common submitBatch and workers
    "pgqueuer": {"driver": "asyncpg", "batchSize": PGQUEUER_BATCH_SIZE, "maxConcurrentTasks": PGQUEUER_MAX_CONCURRENT_TASKS or None},
    "procrastinate": {"driver": "psycopg", "concurrency": CONCURRENCY},
}


def run_peer(url, peer, jobs):
    from importlib.metadata import version

    name = f"offload_peers_{peer}"
    try:
        recreate_database(url, name)
    except Exception as error:
        raise Failure(f"could not create the database {name} for {peer} on {url} ({type(error).__name__}: {error})") from None
    folder = tempfile.mkdtemp(prefix=f"offload-peers-{peer}-")
    try:
        seconds, wall, completed, server = RUNS[peer](database_url(url, name), jobs, folder)
    except Failure as failure:
        raise Failure(f"{peer}: {failure}") from None
    except Exception as error:
        raise Failure(f"{peer} failed: {type(error).__name__}: {error}") from None
    finally:
        drop_database(url, name)
        shutil.rmtree(folder, ignore_errors=True)
    if seconds <= 0:
        raise Failure(f"{peer}: its timestamps span {seconds} s, which cannot be measured")
    return {"suite": "queue", "peer": peer, "version": version(peer), "jobs": jobs, "completed": completed,
            "seconds": round(seconds, 3), "wallSeconds": round(wall, 3), "jobsPerSecond": round(jobs / seconds, 1),
            "submitBatch": BATCH, "workers": WORKERS, **SETTINGS[peer], **({"server": server} if server else {})}


# ---------------------------------------------------------------------------------------------------
# Entry points


def measure(url, jobs, peer="all", pgqueuer_max_concurrent_tasks=None, timeout=2 * TIMEOUT + 600, meter_data=None):
    """For bench.py: runs this script (in the venv) and returns its JSON lines as dicts; its stderr
    passes through. Raises RuntimeError when it fails (its own sentence is the last line on stderr)."""
    ensure_venv()
    cap = [] if pgqueuer_max_concurrent_tasks is None else ["--pgqueuer-max-concurrent-tasks", str(pgqueuer_max_concurrent_tasks)]
    meter = [] if meter_data is None else ["--meter-data", meter_data]
    run = subprocess.run([str(VENV_PYTHON), str(Path(__file__).resolve()), "--url", url, "--jobs", str(jobs), "--peer", peer, *cap, *meter],
                         stdout=subprocess.PIPE, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"peers.py failed with status {run.returncode} (its reason is on stderr above)")
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description="Throughput of pgqueuer and procrastinate on no-op jobs.")
    parser.add_argument("--url", required=True, help="a PostgreSQL URL whose user may create databases")
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--peer", choices=[*PEERS, "all"], default="all")
    parser.add_argument("--pgqueuer-max-concurrent-tasks", type=int, default=None, metavar="N",
                        help="cap each pgqueuer worker at N jobs held (at least 2 × its batch size, 10); none by default")
    parser.add_argument("--meter-data", metavar="DIR", help="the server's data folder: each line then says what the server spent")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    cap = args.pgqueuer_max_concurrent_tasks
    if cap is not None and cap < 2 * PGQUEUER_BATCH_SIZE:
        parser.error(f"--pgqueuer-max-concurrent-tasks must be at least {2 * PGQUEUER_BATCH_SIZE} (2 × its batch size)")
    global PGQUEUER_MAX_CONCURRENT_TASKS
    PGQUEUER_MAX_CONCURRENT_TASKS = cap
    SETTINGS["pgqueuer"]["maxConcurrentTasks"] = cap
    try:
        if not in_venv():
            ensure_venv()
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
        # A SIGTERM from the driver unwinds through the finally blocks that stop the workers.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"peers: stopped by SIGTERM"))
        if args.meter_data:
            global METER
            METER = ServerMeter(args.url, args.meter_data)
        for peer in PEERS if args.peer == "all" else (args.peer,):
            log(f"{peer}: {args.jobs} jobs in batches of {BATCH}, {WORKERS} worker processes, {SETTINGS[peer]}")
            print(json.dumps(run_peer(args.url, peer, args.jobs)), flush=True)
    except Failure as failure:
        sys.exit(f"peers: {failure}")
    except KeyboardInterrupt:
        sys.exit("peers: interrupted")


if __name__ == "__main__":
    main()
