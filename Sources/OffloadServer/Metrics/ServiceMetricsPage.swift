import Offload
import Prometheus
import Synchronization

extension OffloadService {
    /// `GET /metrics`: every family of the service under the Prometheus and OpenMetrics naming
    /// conventions (checked by `promtool check metrics` in the tests), then those of the
    /// registry the program gave (``metrics``), if any.
    func metricsPage() -> [UInt8] {
        var text = MetricsText()
        text.family("offload_build_info", .gauge, "The service's name and version; always 1.")
        text.sample("offload_build_info", [("service", configuration.name), ("version", configuration.version)], 1)
        writePools(into: &text)
        writeJobs(into: &text)
        requests.write(into: &text)
        text.family("offload_http_connections", .gauge, "Client connections open now.")
        text.sample("offload_http_connections", [], connections.count)
        writeCards(into: &text)
        if let kept = (store.backend as? MemoryBackend)?.kept {
            text.family("offload_store_jobs", .gauge, "Jobs the in-memory store keeps, running and ended.")
            text.sample("offload_store_jobs", [], kept.jobs)
            text.family("offload_store_bytes", .gauge, "Bytes of payloads, results and events the in-memory store keeps.")
            text.sample("offload_store_bytes", [], kept.bytes)
            text.family("offload_store_held_bytes", .gauge, "Bytes of the files the in-memory store keeps.")
            text.sample("offload_store_held_bytes", [], kept.heldBytes)
        }
        if let metrics {
            var bytes: [UInt8] = []
            metrics.emit(into: &bytes)
            text.append(bytes)
        }
        return text.bytes
    }

    /// Each pool's queue, workers and totals, read from the pool now.
    private func writePools(into text: inout MetricsText) {
        let pools = [store.pool] + (store.cardPool.map { [$0] } ?? [])
        let readings = pools.map { (name: $0.configuration.name, metrics: $0.metrics) }
        let families: [(String, MetricsText.Kind, String, (PoolMetrics) -> Int)] = [
            ("offload_jobs_submitted_total", .counter, "Jobs accepted by the pool.", { $0.submitted }),
            ("offload_job_timeouts_total", .counter, "Attempts stopped at their timeout.", { $0.timedOut }),
            ("offload_jobs_running", .gauge, "Jobs running now.", { $0.running }),
            ("offload_jobs_delayed", .gauge, "Jobs waiting for their run-at time (a delay or a retry's back-off).", { $0.delayed }),
            ("offload_workers", .gauge, "Workers of the pool.", { $0.workers }),
            ("offload_workers_busy", .gauge, "Workers running a job now.", { $0.busyWorkers })
        ]
        for (name, kind, help, value) in families {
            text.family(name, kind, help)
            for reading in readings { text.sample(name, [("pool", reading.name)], value(reading.metrics)) }
        }
        text.family("offload_queue_jobs", .gauge, "Jobs ready to run and waiting for a worker, by priority.")
        for reading in readings {
            for priority in Priority.allCases {
                text.sample("offload_queue_jobs", [("pool", reading.name), ("priority", priority.name)], reading.metrics.queued[priority, default: 0])
            }
        }
    }

    /// Jobs by pool and kind, from the pools' events.
    private func writeJobs(into text: inout MetricsText) {
        let all = store.jobMetrics.all
        text.family("offload_jobs_ended_total", .counter, "Jobs that ended, by pool, kind and status (completed, failed, cancelled).")
        for (key, series) in all {
            let ended = series.ended.withLock { $0 }
            for status in JobStatus.allCases {
                text.sample(
                    "offload_jobs_ended_total", [("pool", key.pool), ("kind", key.kind), ("status", status.rawValue)], ended[status, default: 0])
            }
        }
        text.family("offload_job_retries_total", .counter, "Attempts that failed and were scheduled to run again, by pool and kind.")
        for (key, series) in all {
            text.sample("offload_job_retries_total", [("pool", key.pool), ("kind", key.kind)], series.retried.load(ordering: .relaxed))
        }
        text.family("offload_job_snoozes_total", .counter, "Attempts whose handler snoozed the job, by pool and kind.")
        for (key, series) in all {
            text.sample("offload_job_snoozes_total", [("pool", key.pool), ("kind", key.kind)], series.snoozed.load(ordering: .relaxed))
        }
        text.family("offload_job_preemptions_total", .counter, "Running jobs put back in the queue to make way for critical work.")
        for (key, series) in all {
            text.sample("offload_job_preemptions_total", [("pool", key.pool), ("kind", key.kind)], series.preempted.load(ordering: .relaxed))
        }
        text.family("offload_job_wait_seconds", .histogram, "Time ended jobs waited, ready, before they ran.")
        for (key, series) in all { text.histogram("offload_job_wait_seconds", [("pool", key.pool), ("kind", key.kind)], series.wait.reading) }
        text.family("offload_job_run_seconds", .histogram, "Time ended jobs ran on a worker.")
        for (key, series) in all { text.histogram("offload_job_run_seconds", [("pool", key.pool), ("kind", key.kind)], series.run.reading) }
    }

    private func writeCards(into text: inout MetricsText) {
        let (hits, misses, kept, keptBytes) = cards.counts
        text.family("offload_card_cache_hits_total", .counter, "Card requests answered from the cache.")
        text.sample("offload_card_cache_hits_total", [], hits)
        text.family("offload_card_cache_misses_total", .counter, "Card requests that drew the card.")
        text.sample("offload_card_cache_misses_total", [], misses)
        text.family("offload_card_cache_entries", .gauge, "Cards in the cache.")
        text.sample("offload_card_cache_entries", [], kept)
        text.family("offload_card_cache_bytes", .gauge, "Bytes of the cards in the cache.")
        text.sample("offload_card_cache_bytes", [], keptBytes)
    }
}
