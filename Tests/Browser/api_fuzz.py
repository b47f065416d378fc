"""The OpenAPI document fuzzed with schemathesis against a running `offload serve`: no 5xx and
no response that breaks the document.

    python api_fuzz.py OFFLOAD_EXECUTABLE [MAX_EXAMPLES]
"""
import os
import subprocess
import sys

from serve import Serve


def main():
    offload = sys.argv[1]
    examples = sys.argv[2] if len(sys.argv) > 2 else "40"
    # No rate limit: the fuzzer sends hundreds of writes. Worker processes (the default), as for
    # any untrusted input: it submits debug.crash, debug.hang and debug.alloc jobs among others.
    serve = Serve(offload, "--workers", "2", "--timeout-ms", "5000", "--rate-limit", "0", "--render-rate-limit", "0")
    st = os.path.join(os.path.dirname(sys.executable), "st")
    common = [
        "--url", serve.url, "--header", "Authorization: Bearer " + serve.token,
        "--max-examples", examples, "--generation-deterministic", "--request-timeout", "30", "--suppress-health-check", "all",
        # The streams stay open while a job runs: their schema is the stream's type alone.
        "--exclude-path", "/v1/stream", "--exclude-path-regex", "^/v1/jobs/[^/]+/events$",
    ]
    passes = [
        # A job's payload is the kind's to check: the document cannot say every kind's fields, so
        # a payload the kind refuses (400 naming the field) is not a schema-valid request refused.
        # First: the other pass sets limits on kinds and pauses them, after which a job submitted
        # with ?wait= waits its whole wait.
        ["--checks", "all", "--exclude-checks", "use_after_free,positive_data_acceptance", "--include-operation-id", "submitJobs",
         "--max-response-time", "75"],  # ?wait= may hold the answer for up to 60 s, as asked
        # DELETE /v1/jobs/{id} cancels: the job stays readable, cancelled (River and Oban keep
        # cancelled jobs too), so the check that a deleted resource is gone does not apply.
        ["--checks", "all", "--exclude-checks", "use_after_free", "--exclude-operation-id", "submitJobs",
         "--exclude-operation-id", "createSchedule"],
        # A schedule's cron expression and zone are the server's to read (the document cannot say
        # which strings are expressions); last, as its schedules submit jobs every second.
        ["--checks", "all", "--exclude-checks", "use_after_free,positive_data_acceptance", "--include-operation-id", "createSchedule"],
    ]
    returncode = 0
    try:
        for options in passes:
            result = subprocess.run([st, "run", serve.url + "/openapi.json", *common, *options])
            returncode = returncode or result.returncode
    finally:
        status = serve.stop()
    if status != 0:
        sys.exit(f"api fuzz: offload serve exited {status} after SIGTERM")
    sys.exit(returncode)


if __name__ == "__main__":
    main()
