"""benchmarks/chaos, the `serve` part: `offload serve` and the durable queue under the attacks of
issue 20, one JSON line per attack with its figures and its goal.

Each attack runs against a fresh `offload serve` (release build) while a prober asks `/healthz`
on a new connection every 20 ms; the server's resident memory is sampled every 100 ms. Goals:
peak RSS within the configured bounds plus 150 MB, `/healthz` p99 at most 50 ms, no answer lost.
"""
import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOKEN = "chaos-benchmark-token"
SLACK_MB = 150
# The memory bounds every attack's service is configured with: --store-mb and --card-cache-mb.
STORE_MB = 256
CARD_CACHE_MB = 64
CONFIGURED_MB = STORE_MB + CARD_CACHE_MB
HEALTH_P99_MS = 50


def emit(record):
    print(json.dumps(record, ensure_ascii=False), flush=True)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descriptors(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Serve:
    """`offload serve` on a free port in a folder of its own, its output drained."""

    def __init__(self, offload, *arguments, open_files=None):
        self.folder = tempfile.mkdtemp(prefix="offload-chaos-serve-")
        limit = None
        if open_files:
            limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        self.process = subprocess.Popen([offload, "serve", "--port", "0", "--token", TOKEN, *arguments], cwd=self.folder,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=limit)
        self.lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", line)
            if match:
                self.port = int(match.group(1))
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.process.kill()
        raise RuntimeError("offload serve did not start")

    def _drain(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def pid(self):
        return self.process.pid

    def request(self, method, path, body=None, token=True, timeout=120, source=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                                source_address=(source, 0) if source else None)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {TOKEN}"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self):
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
        return time.monotonic() - started


class Watch:
    """During an attack: `/healthz` on a new connection every 20 ms, from another loopback address
    than the attacker's (127.0.0.2, as a load balancer's checks come from elsewhere), and the
    server's RSS every 100 ms."""

    def __init__(self, serve):
        self.serve = serve
        self.latencies = []
        self.failures = 0
        self.rss = []
        self.running = True
        self.before_kb = rss_kb(serve.pid)
        self.threads = [threading.Thread(target=self._probe, daemon=True), threading.Thread(target=self._sample, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _probe(self):
        while self.running:
            started = time.monotonic()
            try:
                status, _ = self.serve.request("GET", "/healthz", token=False, timeout=10, source="127.0.0.2")
                if status == 200:
                    self.latencies.append((time.monotonic() - started) * 1000)
                else:
                    self.failures += 1
            except OSError:
                self.failures += 1
            time.sleep(0.02)

    def _sample(self):
        while self.running:
            self.rss.append(rss_kb(self.serve.pid))
            time.sleep(0.1)

    def finish(self):
        self.running = False
        for thread in self.threads:
            thread.join()
        latencies = sorted(self.latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None
        return {"rssBeforeMb": round(self.before_kb / 1024, 1), "rssPeakMb": round(max(self.rss + [0]) / 1024, 1),
                "rssAfterMb": round(rss_kb(self.serve.pid) / 1024, 1), "fds": descriptors(self.serve.pid),
                "healthz": {"probes": len(latencies), "failed": self.failures,
                            "p50Ms": round(statistics.median(latencies), 2) if latencies else None,
                            "p99Ms": round(p99, 2) if p99 is not None else None}}


def verdict(record, bound_mb, extra_ok=True):
    health = record["healthz"]
    met = (record["rssPeakMb"] <= bound_mb + SLACK_MB and health["p99Ms"] is not None and health["p99Ms"] <= HEALTH_P99_MS
           and health["failed"] == 0 and extra_ok)
    record["boundMb"] = bound_mb
    record["goal"] = (f"peak RSS <= the configured bounds ({bound_mb} MB: --store-mb, --card-cache-mb"
                      f"{', stream buffers' if bound_mb > CONFIGURED_MB else ''}) + {SLACK_MB} MB; /healthz p99 <= {HEALTH_P99_MS} ms, none failed; nothing lost")
    record["met"] = met
    return record


def submit_all(serve, body, requests):
    """POSTs `body` `requests` times, as a client that honours 503 + Retry-After; the statuses seen."""
    statuses = {}
    for _ in range(requests):
        while True:
            status, _ = serve.request("POST", "/v1/jobs", body)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 503:
                break
            time.sleep(0.2)
    return statuses


def in_parallel(count, work):
    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def large_jobs(offload):
    """20,000 jobs of 50 KB (debug.echo: the result is as large), 4 clients, batches of 50, each
    client sending a batch again after a 503 (the store full or behind its workers)."""
    serve = Serve(offload, "--diagnostics", "--rate-limit", "0", "--workers", "2")
    watch = Watch(serve)
    pad = "x" * 50_000
    statuses = {}
    lock = threading.Lock()

    body = json.dumps([{"kind": "debug.echo", "payload": {"pad": pad}}] * 50)

    def client(index):
        for status, count in submit_all(serve, body, 100).items():
            with lock:
                statuses[status] = statuses.get(status, 0) + count

    in_parallel(4, client)
    time.sleep(2)
    record = {"suite": "chaos", "part": "serve", "attack": "20,000 jobs of 50 KB (4 clients, 50 a request)", **watch.finish(),
              "requests": statuses}
    record["stopSeconds"] = round(serve.stop(), 2)
    emit(verdict(record, CONFIGURED_MB))


def large_bodies(offload):
    """25 requests of a 4 MB body, one at a time, each a job whose result is as large."""
    serve = Serve(offload, "--diagnostics", "--rate-limit", "0", "--workers", "2")
    watch = Watch(serve)
    statuses = {}
    pad = "y" * (4_000_000 - 200)
    for _ in range(25):
        status, _ = serve.request("POST", "/v1/jobs?wait=30000", json.dumps({"kind": "debug.echo", "payload": {"pad": pad}}))
        statuses[status] = statuses.get(status, 0) + 1
    record = {"suite": "chaos", "part": "serve", "attack": "25 bodies of 4 MB, each a job of that size", **watch.finish(),
              "requests": statuses}
    record["stopSeconds"] = round(serve.stop(), 2)
    emit(verdict(record, CONFIGURED_MB, statuses.get(201, 0) == 25))


def stalled_readers(offload):
    """20 readers of /v1/stream that never read, while 30,000 jobs change state."""
    serve = Serve(offload, "--diagnostics", "--rate-limit", "0", "--workers", "2", "--isolation", "thread")
    readers = []
    for _ in range(20):
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(("127.0.0.1", serve.port))
        reader.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: chaos\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        readers.append(reader)
    time.sleep(0.5)
    watch = Watch(serve)
    submit_all(serve, json.dumps([{"kind": "debug.echo", "payload": {"n": 1}}] * 100), 300)
    time.sleep(2)
    # Each reader, read now: it was told it fell behind (the overflow event, then the stream's end),
    # or, when it had not read for the send timeout, its connection was closed.
    told, closed = 0, 0

    def drain(reader):
        nonlocal told, closed
        reader.settimeout(5)
        data = b""
        ended = False
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                chunk = reader.recv(1 << 16)
                if not chunk:
                    ended = True
                    break
                data += chunk
                if data.endswith(b"\r\n0\r\n\r\n"):
                    break
        except OSError:
            pass
        if b"event: overflow" in data:
            told += 1
        elif ended:
            closed += 1
        reader.close()

    threads = [threading.Thread(target=drain, args=(reader,)) for reader in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = {"suite": "chaos", "part": "serve", "attack": "20 stalled /v1/stream readers over 30,000 jobs", **watch.finish(),
              "readersTold": told, "readersClosed": closed}
    record["stopSeconds"] = round(serve.stop(), 2)
    # 1 MiB of events per stream, and what the kernel holds of each socket.
    emit(verdict(record, CONFIGURED_MB + 20 * 2, told + closed == 20))


def idle_sockets(offload, count, partial):
    """`count` sockets from one address under `ulimit -n 1024`: idle, or each with half a request head."""
    header_ms = 5_000
    serve = Serve(offload, "--diagnostics", "--header-timeout-ms", str(header_ms), open_files=1024)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 256)), hard))
    watch = Watch(serve)
    sockets = []
    refused = 0
    opened_at = time.monotonic()
    for _ in range(count):
        try:
            connection = socket.create_connection(("127.0.0.1", serve.port), timeout=5)
            if partial:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: chaos\r\nX-Slow: ")
            sockets.append(connection)
        except OSError:
            refused += 1
    time.sleep(header_ms / 1000 + 1 if partial else 5)
    closed = 0
    for connection in sockets:
        connection.setblocking(False)
        try:
            closed += connection.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        connection.close()
    record = {"suite": "chaos", "part": "serve", "attack": f"{count} {'slow-header' if partial else 'idle'} sockets, ulimit -n 1024",
              **watch.finish(), "opened": len(sockets), "refused": refused, "closedByServer": closed,
              "secondsOpen": round(time.monotonic() - opened_at, 1)}
    if partial:
        record["headerTimeoutMs"] = header_ms
    record["stopSeconds"] = round(serve.stop(), 2)
    emit(verdict(record, CONFIGURED_MB, not partial or closed == len(sockets)))


def delayed_then_cards(offload):
    """30,000 delayed jobs held, then a `?wait` submit and 800 anonymous cards (16 at a time)."""
    serve = Serve(offload, "--diagnostics", "--rate-limit", "0", "--render-rate-limit", "0", "--workers", "2")
    watch = Watch(serve)
    submit_all(serve, json.dumps([{"kind": "debug.echo", "delayMs": 3_600_000, "payload": {"n": 1}}] * 100), 300)
    status, body = serve.request("POST", "/v1/jobs?wait=10000", json.dumps({"kind": "debug.echo", "payload": {"answer": 42}}))
    answered = status == 201 and json.loads(body)["jobs"][0] is not None
    statuses = {}
    lock = threading.Lock()

    def cards(index):
        for number in range(50):
            status, _ = serve.request("GET", f"/og.png?title=Card+{index}-{number}", token=False)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    in_parallel(16, cards)
    record = {"suite": "chaos", "part": "serve", "attack": "30,000 delayed jobs, then a ?wait submit and 800 anonymous cards",
              **watch.finish(), "waitAnswered": answered, "cards": statuses}
    record["stopSeconds"] = round(serve.stop(), 2)
    emit(verdict(record, CONFIGURED_MB, answered and statuses.get(200, 0) == 800))


def nul_on_queue(offload):
    """A NUL in one result among 1,000 jobs on 2 `offload worker` hosts; then SIGTERM."""
    folder = tempfile.mkdtemp(prefix="offload-chaos-queue-")
    # Beside the folder, not in it: the server runs as the postgres user, who may not enter it.
    server = f"{folder}-pg"
    url = subprocess.check_output([os.path.join(ROOT, "scripts/postgres-server"), "start", server], text=True).strip()
    hosts = []
    try:
        lines = [json.dumps({"id": f"j{index}", "kind": "debug.echo",
                             "payload": {"n": index, **({"name": "a\u0000b"} if index == 500 else {})}}) for index in range(1000)]
        with open(os.path.join(folder, "jobs.jsonl"), "w") as out:
            out.write("\n".join(lines) + "\n")
        logs = []
        for index in range(2):
            log = open(os.path.join(folder, f"host{index}.log"), "w")
            logs.append(log.name)
            hosts.append(subprocess.Popen([offload, "worker", "--queue", url, "--diagnostics", "--isolation", "thread", "--workers", "2",
                                           "--drain-ms", "5000", "--out", os.path.join(folder, f"out{index}")],
                                          cwd=folder, stdout=log, stderr=log))
        started = time.monotonic()
        submit = subprocess.run([offload, "submit", os.path.join(folder, "jobs.jsonl"), "--queue", url, "--wait",
                                 "--out", os.path.join(folder, "results")], capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - started
        results = {}
        with open(os.path.join(folder, "results", "results.jsonl")) as lines_file:
            for line in lines_file:
                result = json.loads(line)
                results[result["id"]] = result
        completed = sum(result["status"] == "completed" for result in results.values())
        nul = results.get("j500", {})
        stops = []
        for host in hosts:
            stopping = time.monotonic()
            host.send_signal(signal.SIGTERM)
            host.wait(timeout=120)
            stops.append(round(time.monotonic() - stopping, 2))
        log_lines = sum(len(open(log).read().splitlines()) for log in logs)
        exact = nul.get("result", {}).get("name") == "a\u0000b"
        record = {"suite": "chaos", "part": "queue", "attack": "a NUL in one result among 1,000 jobs on 2 hosts, then SIGTERM",
                  "jobs": 1000, "completed": completed, "lost": 1000 - len(results), "nulResult": nul.get("status"),
                  "nulStoredExactly": exact, "submitExit": submit.returncode, "seconds": round(seconds, 2),
                  "stopSeconds": stops, "drainSeconds": 5, "hostLogLines": log_lines,
                  "goal": "999 others completed; its end typed or stored exactly; SIGTERM exit within the drain; log lines bounded (< 50)"}
        record["met"] = (completed >= 999 and len(results) == 1000 and (exact or nul.get("status") == "failed")
                         and max(stops) <= 5 + 2 and log_lines < 50)
        emit(record)
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
        subprocess.run([os.path.join(ROOT, "scripts/postgres-server"), "stop", server], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offload", required=True)
    args = parser.parse_args()
    offload = os.path.abspath(args.offload)
    large_jobs(offload)
    large_bodies(offload)
    stalled_readers(offload)
    idle_sockets(offload, 2_000, partial=False)
    idle_sockets(offload, 500, partial=True)
    delayed_then_cards(offload)
    nul_on_queue(offload)


if __name__ == "__main__":
    sys.exit(main())
