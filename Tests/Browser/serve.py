"""Starts `offload serve` on a free port for a browser or fuzz test, and stops it."""
import os
import re
import signal
import subprocess
import tempfile
import time


class Serve:
    def __init__(self, offload, *arguments, token="browser-test-token", command=None, environment=None,
                 listening=r"listening on http://127\.0\.0\.1:(\d+) ", folder=None):
        """`offload serve` with `arguments`, or `command` (a program that prints `listening`)."""
        self.token = token
        self.folder = folder or tempfile.mkdtemp(prefix="offload-browser-")
        self.process = subprocess.Popen(
            command or [offload, "serve", "--port", "0", "--token", token, "--diagnostics", *arguments],
            cwd=self.folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **(environment or {})})
        deadline = time.monotonic() + 60
        self.banner = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.banner += line
            match = re.search(listening, line)
            if match:
                self.port = int(match.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
                return
        self.process.kill()
        raise RuntimeError("offload serve did not start: " + self.banner)

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
