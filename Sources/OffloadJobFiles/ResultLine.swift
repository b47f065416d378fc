public import Offload

/// The lines `offload run` writes: one result per job in `results.jsonl`, one event per line for `--events`.
public enum ResultLine {
    /// `{"id":…,"kind":…,"status":…,"attempts":…,"worker":…,"workerPid":…,"waitMs":…,"queuedMs":…,"runMs":…,"result":…,"error":…}`
    public static func encode(_ outcome: JobOutcome) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(192)
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(outcome.id.rawValue)),
            ("kind", .string(outcome.kind)),
            ("status", .string(outcome.status.rawValue)),
            ("attempts", .int(Int64(outcome.attempts))),
            ("worker", outcome.worker.map { .string($0.rawValue) } ?? .null),
            ("workerPid", outcome.workerPID.map { .int(Int64($0)) } ?? .null),
            ("waitMs", .double(outcome.waitTime.reportedMilliseconds)),
            ("queuedMs", .double(outcome.queueTime.reportedMilliseconds)),
            ("runMs", .double(outcome.runTime.reportedMilliseconds))
        ]
        var result: JSONValue = .null
        var errorValue: JSONValue = outcome.error?.json ?? .null
        if let output = outcome.result {
            do { result = try output.json() } catch {
                errorValue = OffloadError(.handlerFailed, "the result could not be encoded as JSON: \(error)").json
            }
        }
        members.append(("result", result))
        members.append(("error", errorValue))
        JSONWriter.write(.object(members), into: &out)
        return out
    }

    /// The outcome as its result line may show it: a result longer than `limits.maxMessageBytes`
    /// as JSON fails ``OffloadError/Code/resourceLimitExceeded`` instead, as a worker process
    /// refuses to send one.
    public static func bounded(_ outcome: JobOutcome, limits: ResourceLimits) -> JobOutcome {
        guard let output = outcome.result, let json = try? output.json() else { return outcome }
        do throws(OffloadError) { try limits.checkResult(bytes: JSONWriter.size(of: json)) } catch {
            var bounded = outcome
            bounded.status = .failed
            bounded.result = nil
            bounded.error = error
            return bounded
        }
        return outcome
    }

    /// `{"event":"workerReady","t":12.5,"worker":"w1","pid":1234,…}` — `t` in milliseconds since
    /// the pool started; a job's events are its steps (``JobEvent``): `{"event":"started","t":…,
    /// "job":…,"kind":…,"priority":…,"attempt":1,"worker":…,"pid":…}`, with `progress`, `message`
    /// and `error` where the step has them.
    public static func encode(_ event: PoolEvent) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [
            ("event", .string(event.name)),
            ("t", .double(event.time.reportedMilliseconds))
        ]
        if let worker = event.worker { members.append(("worker", .string(worker.rawValue))) }
        if let pid = event.pid { members.append(("pid", .int(Int64(pid)))) }
        if let job = event.job { members.append(("job", .string(job.rawValue))) }
        if let info = event.jobInfo {
            members.append(("kind", .string(info.kind)))
            members.append(("priority", .string(info.priority.name)))
            members.append(("attempt", .int(Int64(info.attempt))))
        }
        var error: OffloadError?
        if case .workerFailed(_, _, let message, let cause) = event {
            members.append(("message", .string(message)))
            error = cause
        }
        if let step = event.jobEvent(since: Timestamp(secondsSince1970: 0))?.step {
            if case .progress(let fraction, _) = step { members.append(("progress", .double((fraction * 1_000_000).rounded() / 1_000_000))) }
            if let message = step.message { members.append(("message", .string(message))) }
            error = step.error
        }
        if let error { members.append(("error", error.json)) }
        if let outcome = event.outcome { members.append(("status", .string(outcome.status.rawValue))) }
        var out: [UInt8] = []
        JSONWriter.write(.object(members), into: &out)
        return out
    }

}
