-- Loaded after a request script: prints wrk's summary as one JSON line.
function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        '{"requests": %d, "durationUs": %d, "bytes": %d, "non2xx": %d, "connectErrors": %d, "readErrors": %d, "writeErrors": %d, "timeouts": %d, "p50Us": %d, "p90Us": %d, "p99Us": %d, "maxUs": %d}\n',
        summary.requests, summary.duration, summary.bytes, errors.status, errors.connect, errors.read, errors.write, errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
