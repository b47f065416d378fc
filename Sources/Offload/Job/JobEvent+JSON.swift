extension JobEvent {
    /// `{"type","job","at","state",…}`: the step's name, the job, the time (ISO 8601, UTC,
    /// milliseconds), the state after it, then the fields that apply — `sequence`, `attempt`, `host`,
    /// `worker`, `pid`, `progress`, `message`, `runAt` (when a scheduled job or a retry is due),
    /// `error` (`{"code","message"}`).
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(name)), ("job", .string(job.rawValue)), ("at", .string(at.iso8601)),
            ("state", state.map { .string($0.rawValue) } ?? .null)
        ]
        if let sequence { members.append(("sequence", .int(Int64(sequence)))) }
        if let attempt { members.append(("attempt", .int(Int64(attempt)))) }
        if let host { members.append(("host", .string(host))) }
        if let worker { members.append(("worker", .string(worker.rawValue))) }
        if let pid { members.append(("pid", .int(Int64(pid)))) }
        if case .progress(let fraction, _) = step { members.append(("progress", .double(fraction))) }
        if let message = step.message { members.append(("message", .string(message))) }
        if let time = step.time { members.append(("runAt", .string(time.iso8601))) }
        if let error { members.append(("error", error.json)) }
        return .object(members)
    }

    /// Reads an event's JSON form back.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming what is missing or unknown (a type
    ///   this version does not know is refused, never read as another).
    public init(json: JSONValue) throws(OffloadError) {
        guard case .object = json, let name = json["type"]?.stringValue else {
            throw OffloadError(.invalidPayload, "a job event is an object with a type")
        }
        guard let job = json["job"]?.stringValue, let atText = json["at"]?.stringValue, let at = Timestamp(iso8601: atText) else {
            throw OffloadError(.invalidPayload, "a \(name) event needs its job and time")
        }
        var error: OffloadError?
        if let code = json["error"]?["code"]?.stringValue {
            error = OffloadError(OffloadError.Code(rawValue: code), json["error"]?["message"]?.stringValue ?? "")
        }
        let step = try Step(
            name: name, message: json["message"]?.stringValue, fraction: json["progress"]?.doubleValue,
            time: (json["runAt"]?.stringValue).flatMap { Timestamp(iso8601: $0) }, error: error)
        self.init(
            job: JobID(job), at: at, step: step, attempt: (json["attempt"]?.doubleValue).map { Int($0) },
            host: json["host"]?.stringValue, worker: json["worker"]?.stringValue.map(WorkerID.init),
            pid: (json["pid"]?.doubleValue).map { Int32($0) },
            sequence: (json["sequence"]?.doubleValue).map { Int($0) })
    }
}

extension OffloadError {
    /// `{"code","message"}`, as results, events and the service's answers show an error.
    public var json: JSONValue {
        .object([("code", .string(code.rawValue)), ("message", .string(message))])
    }
}
