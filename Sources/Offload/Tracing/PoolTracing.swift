import Synchronization
package import Tracing

/// The spans of a pool's jobs, when the program traces (``PoolConfiguration/tracer``, else the
/// bootstrapped `InstrumentationSystem.tracer`):
///
/// - `offload.submit` (producer), a child of the submitter's context: its headers become the
///   job's ``Job/trace`` (a job that already carries a trace, from a job file or the durable
///   queue, keeps it);
/// - `offload.wait`, from when the job was ready to when a worker took it;
/// - `offload.run` (consumer) for each attempt, ended with its outcome; the worker, in a thread
///   or a process, gets its headers as ``JobContext/trace``, so that the handler's own spans
///   are its children.
///
/// The wait and run spans are children of the job's trace, however far it came.
package final class PoolTracing: Sendable {
    let tracer: any Tracer
    /// Attempts running, each with its span.
    private let running = Mutex<[JobID: any Span]>([:])

    /// `nil` when nothing traces (the no-op tracer): the pool then does no work for spans.
    init?(_ configured: (any Tracer)?) {
        let tracer = configured ?? InstrumentationSystem.tracer
        guard !(tracer is NoOpTracer) else { return nil }
        self.tracer = tracer
    }

    /// The jobs with their traces, as `tracer` (else the bootstrapped one) opens them: what a
    /// durable queue stores, so that the host that runs a job continues its trace.
    package static func submitted(_ jobs: [Job], tracer: (any Tracer)?) -> [Job] {
        let tracer = tracer ?? InstrumentationSystem.tracer
        guard !(tracer is NoOpTracer) else { return jobs }
        return jobs.map { submitted($0, tracer: tracer) }
    }

    /// The job with its trace: that of an `offload.submit` span, a child of the current context,
    /// unless it carries one.
    static func submitted(_ job: Job, tracer: any Tracer) -> Job {
        guard job.trace.isEmpty else { return job }
        var job = job
        let span = tracer.startSpan("offload.submit", context: ServiceContext.current ?? .topLevel, ofKind: .producer)
        span.attributes["offload.job.id"] = job.id.rawValue
        span.attributes["offload.job.kind"] = job.kind
        job.trace = TraceHeaders.of(span.context, using: tracer)
        span.end()
        return job
    }

    /// A worker takes an attempt of `job`: its wait's span, and its own span, opened. Returns the
    /// headers the worker hands the handler.
    func attemptStarts(
        _ job: Job, attempt: Int, worker: WorkerID, readySince: ContinuousClock.Instant, now: ContinuousClock.Instant
    ) -> TraceHeaders {
        let parent = job.trace.serviceContext(using: tracer)
        let wall = DefaultTracerClock.now.nanosecondsSinceEpoch
        let readyNanoseconds = UInt64(max(0, (now - readySince).nanoseconds))
        let ready = DefaultTracerClock.Instant(nanosecondsSinceEpoch: wall > readyNanoseconds ? wall - readyNanoseconds : 0)
        let wait = tracer.startSpan("offload.wait", context: parent, ofKind: .internal, at: ready)
        wait.attributes["offload.job.id"] = job.id.rawValue
        wait.end()
        let run = tracer.startSpan("offload.run", context: parent, ofKind: .consumer)
        run.attributes["offload.job.id"] = job.id.rawValue
        run.attributes["offload.job.kind"] = job.kind
        run.attributes["offload.job.attempt"] = attempt
        run.attributes["offload.worker"] = worker.description
        let previous = running.withLock { $0.updateValue(run, forKey: job.id) }
        previous?.end()
        return TraceHeaders.of(run.context, using: tracer)
    }

    /// Ends the span of the attempt an event ends.
    func observe(_ event: PoolEvent) {
        let id: JobID
        let outcome: (status: String, error: OffloadError?)
        switch event {
        case .attemptFailed(let info, let error) where error.snoozeFor != nil:
            (id, outcome) = (info.job, ("snoozed", nil))
        case .attemptFailed(let info, let error):
            (id, outcome) = (info.job, ("retryScheduled", error))
        case .jobPreempted(let info):
            (id, outcome) = (info.job, ("preempted", nil))
        case .jobCompleted(let info, _):
            (id, outcome) = (info.job, ("completed", nil))
        case .jobFailed(let info, let ended) where ended.error?.snoozeFor != nil:
            // On a durable queue the pool ends a snoozed attempt; the queue runs it again.
            (id, outcome) = (info.job, ("snoozed", nil))
        case .jobFailed(let info, let ended):
            (id, outcome) = (info.job, ("failed", ended.error))
        case .jobCancelled(let info, let ended):
            (id, outcome) = (info.job, ("cancelled", ended.error))
        default:
            return
        }
        guard let span = running.withLock({ $0.removeValue(forKey: id) }) else { return }
        span.attributes["offload.job.outcome"] = outcome.status
        if let error = outcome.error {
            span.attributes["offload.error.code"] = error.code.rawValue
            span.setStatus(SpanStatus(code: .error, message: error.message))
        }
        span.end()
    }
}
