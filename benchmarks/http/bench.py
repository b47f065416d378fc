"""benchmarks/http: `offload serve` drawing Open Graph cards in worker processes against a plain
Hummingbird server drawing the same card on its own event loop, and its cache against nginx
serving the card as a static file, under wrk, on this machine, in one run. Then the same cached
card from a service that signs its cards (--card-key), its URL signed, against the unsigned one:
the cost of a signed service (each URL checked when first read, its expiry on every request).

Prints JSON lines: each wrk run, then the four figures with their goals.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def wait_for_port(process, pattern=r"listening on http://127\.0\.0\.1:(\d+) "):
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        match = re.search(pattern, line)
        if match:
            # Drain the rest of its output so that it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return int(match.group(1))
    raise RuntimeError("server did not start: " + seen)


def start(command, cwd=None):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    return process, wait_for_port(process)


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def wrk(url, seconds, connections, threads, script=None, script_args=()):
    scripts = [os.path.join(HERE, "report.lua")]
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "30s"]
    handle, lua = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(handle, "w") as out:
        if script:
            out.write(open(os.path.join(HERE, script)).read() + "\n")
        out.write(open(scripts[0]).read())
    command += ["-s", lua, url]
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(lua)
    line = [l for l in output.splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    result["rps"] = round(result["requests"] / (result["durationUs"] / 1e6), 1)
    return result


def emit(record):
    print(json.dumps(record), flush=True)


def measure(name, base, card_path, args):
    """Uncached cards/s alone, then /healthz under the same load."""
    unique = wrk(base + card_path, args.seconds, args.connections, 2, "unique.lua", [card_path])
    emit({"suite": "http", "server": name, "load": "uncached /og.png, unique titles", "connections": args.connections, **unique})
    # /healthz measured while the card load runs.
    results = {}
    loader = threading.Thread(target=lambda: results.setdefault("cards", wrk(base + card_path, args.seconds + 2, args.connections, 1, "unique.lua", [card_path])))
    loader.start()
    time.sleep(1)
    health = wrk(base + "/healthz", args.seconds, 1, 1)
    loader.join()
    emit({"suite": "http", "server": name, "load": "/healthz, 1 connection, while uncached /og.png runs", **health,
          "cardsMeanwhile": results["cards"]["rps"]})
    return unique, health


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--offload", required=True)
    parser.add_argument("--inline", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    args.offload, args.inline = os.path.abspath(args.offload), os.path.abspath(args.inline)
    work = tempfile.mkdtemp(prefix="offload-http-bench-")
    processes = []
    try:
        inline, inline_port = start([args.inline, "0"])
        processes.append(inline)
        offload, offload_port = start([args.offload, "serve", "--port", "0", "--token", "benchmark-token", "--workers", "2",
                                       "--rate-limit", "0", "--render-rate-limit", "0"], cwd=work)
        processes.append(offload)
        inline_base = f"http://127.0.0.1:{inline_port}"
        offload_base = f"http://127.0.0.1:{offload_port}"
        description = "Rendered+by+a+background+worker"
        # Warm both: fonts and encoders, then 2 s of the load to come, so that a pool that grows
        # under load (offload's card workers) is measured grown, as a busy server runs.
        inline_path, offload_path = f"/og.png?description={description}&", f"/og.png?template=midnight&description={description}&"
        for base, path in ((inline_base, inline_path), (offload_base, offload_path)):
            for n in range(8):
                urllib.request.urlopen(f"{base}{path}title=Warm+{n}").read()
            wrk(base + path, 2, args.connections, 2, "unique.lua", [path])

        inline_cards, inline_health = measure("inline", inline_base, inline_path, args)
        offload_cards, offload_health = measure("offload", offload_base, offload_path, args)

        # Cached: one card, asked for again and again, against nginx serving the same bytes.
        cached_path = f"/og.png?template=midnight&title=Cached+card&description={description}"
        card = urllib.request.urlopen(offload_base + cached_path).read()
        # nginx's workers run as another user when it is started as root: they must read the file.
        os.chmod(work, 0o755)
        os.makedirs(os.path.join(work, "www"), mode=0o755)
        with open(os.path.join(work, "www", "og.png"), "wb") as out:
            out.write(card)
        nginx_port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as out:
            out.write(NGINX_CONF.format(work=work, port=nginx_port))
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(nginx)
        wait_until_serving(f"http://127.0.0.1:{nginx_port}/og.png")

        # Signed: the same card from a service that checks signatures. The three servers are
        # measured in turn, twice, so that the machine's drift touches each alike.
        key, salt = "943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881", "520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5"
        signing, signing_port = start([args.offload, "serve", "--port", "0", "--token", "benchmark-token", "--workers", "1",
                                       "--rate-limit", "0", "--render-rate-limit", "0", "--card-key", key, "--card-salt", salt], cwd=work)
        processes.append(signing)
        signed_path = subprocess.run(
            [args.offload, "sign-card", cached_path.split("?", 1)[1], "--card-key", key, "--card-salt", salt],
            capture_output=True, text=True, check=True).stdout.strip()
        signing_base = f"http://127.0.0.1:{signing_port}"
        assert urllib.request.urlopen(signing_base + signed_path).read() == card
        cached_runs, static_runs, signed_runs = [], [], []
        for _ in range(2):
            cached_runs.append(wrk(offload_base + cached_path, args.seconds, 32, 2))
            emit({"suite": "http", "server": "offload", "load": "cached /og.png, one card", "connections": 32, "cardBytes": len(card), **cached_runs[-1]})
            static_runs.append(wrk(f"http://127.0.0.1:{nginx_port}/og.png", args.seconds, 32, 2))
            emit({"suite": "http", "server": "nginx", "version": nginx_version(), "load": "the same PNG as a static file", "connections": 32, **static_runs[-1]})
            signed_runs.append(wrk(signing_base + signed_path, args.seconds, 32, 2))
            emit({"suite": "http", "server": "offload --card-key", "load": "cached /og.png, one card, signed URL", "connections": 32, **signed_runs[-1]})

        def mean_rps(runs):
            return round(sum(run["rps"] for run in runs) / len(runs), 1)

        cached_rps, static_rps, signed_rps = mean_rps(cached_runs), mean_rps(static_runs), mean_rps(signed_runs)

        emit({"suite": "http", "figure": "/healthz p99 while uncached /og.png is under load", "unit": "ms",
              "ours": inline_ms(offload_health["p99Us"]), "peer": inline_ms(inline_health["p99Us"]), "peerName": "inline Hummingbird",
              "ratio": round(offload_health["p99Us"] / max(1, inline_health["p99Us"]), 3), "goal": "<= 0.2 × the inline server's"})
        emit({"suite": "http", "figure": "uncached /og.png (unique titles), 1200×630 PNG", "unit": "cards/s",
              "ours": offload_cards["rps"], "peer": inline_cards["rps"], "peerName": "inline Hummingbird",
              "ratio": round(offload_cards["rps"] / max(1e-9, inline_cards["rps"]), 3), "goal": ">= 0.9 × the inline server's"})
        emit({"suite": "http", "figure": "cached /og.png", "unit": "requests/s", "ours": cached_rps, "peer": static_rps,
              "peerName": "nginx static file", "ratio": round(cached_rps / max(1e-9, static_rps), 3), "goal": ">= 0.5 × nginx's"})
        emit({"suite": "http", "figure": "cached /og.png, signed URL (HMAC-SHA256 checked once per URL, its expiry per request)", "unit": "requests/s",
              "ours": signed_rps, "peer": cached_rps, "peerName": "the same card unsigned",
              "ratio": round(signed_rps / max(1e-9, cached_rps), 3), "goal": ">= 0.95 × the unsigned rate"})
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


def inline_ms(us):
    return round(us / 1000, 3)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not start")


def nginx_version():
    output = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
    match = re.search(r"nginx/([\d.]+)", output)
    return match.group(1) if match else "unknown"


# nginx as a site would serve a static picture: its default worker count (one per core), sendfile,
# keep-alive, no access log (as the services here write none).
NGINX_CONF = """
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_body_temp_path {work}/client;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ image/png png; }}
    server {{
        listen 127.0.0.1:{port};
        root {work}/www;
        location = /og.png {{ add_header Cache-Control "public, max-age=86400"; }}
    }}
}}
"""

if __name__ == "__main__":
    main()
