extension WireMessage {
    /// Appends the message as one frame.
    func encode(into out: inout [UInt8]) {
        var body = WireWriter()
        switch self {
        case .initialize(let initialize):
            body.string(initialize.workerID)
            body.u64(UInt64(max(initialize.heartbeatInterval.nanoseconds, 0)))
            body.i32(initialize.hostPID)
            body.u32(UInt32(ResourceLimits.names.count))
            for name in ResourceLimits.names { body.u64(UInt64(max(initialize.limits[name]!, 0))) }
        case .workerReady(let pid, let kinds):
            body.i32(pid)
            body.u32(UInt32(kinds.count))
            for kind in kinds { body.string(kind) }
        case .job(let job):
            body.string(job.id)
            body.u32(UInt32(job.attempt))
            body.string(job.kind)
            body.u8(UInt8(job.priority.rawValue))
            body.u8((job.ignoresUnknownKeys ? 1 : 0) | (job.announcesStart ? 2 : 0) | (job.trace.isEmpty ? 0 : 4))
            body.blob(job.payload)
            if !job.trace.isEmpty {
                body.u32(UInt32(job.trace.count))
                for (name, value) in job.trace.sorted(by: { $0.key < $1.key }) {
                    body.string(name)
                    body.string(value)
                }
            }
        case .jobStarted(let id, let attempt), .cancel(let id, let attempt):
            body.string(id)
            body.u32(UInt32(attempt))
        case .jobProgress(let id, let attempt, let fraction, let message):
            body.string(id)
            body.u32(UInt32(attempt))
            body.f64(fraction)
            body.optionalString(message)
        case .jobCompleted(let id, let attempt, let result):
            body.string(id)
            body.u32(UInt32(attempt))
            body.blob(result)
        case .jobFailed(let id, let attempt, let failure):
            body.string(id)
            body.u32(UInt32(attempt))
            body.string(failure.code)
            body.string(failure.message)
            body.u8(failure.retryable.map { $0 ? 1 : 0 } ?? 2)
            // Flags: 1 cancelled, 2 snoozed (its milliseconds follow).
            body.u8((failure.cancelled ? 1 : 0) | (failure.snoozeMilliseconds == nil ? 0 : 2))
            if let milliseconds = failure.snoozeMilliseconds { body.u64(milliseconds) }
        case .heartbeat(let sequence):
            body.u64(sequence)
        case .terminate:
            break
        case .workerError(let message):
            body.string(message)
        }
        let length = UInt32(body.bytes.count + 2)
        withUnsafeBytes(of: length.littleEndian) { out.append(contentsOf: $0) }
        out.append(WireFormat.version)
        out.append(kind.rawValue)
        out.append(contentsOf: body.bytes)
    }

    /// The message as one frame.
    var frame: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Decodes the body of a frame of type `kind`.
    static func decode(_ kind: Kind, body: UnsafeRawBufferPointer) throws(WireError) -> WireMessage {
        var reader = WireReader(body)
        let message: WireMessage
        switch kind {
        case .initialize:
            let workerID = try reader.string("worker id")
            let interval = try reader.u64("heartbeat interval")
            let hostPID = try reader.i32("host pid")
            let count = try reader.u32("limit count")
            guard interval <= UInt64(Int64.max), count == ResourceLimits.names.count else {
                throw WireError(.malformed("initialize values out of range"))
            }
            var limits = ResourceLimits()
            for name in ResourceLimits.names {
                let value = try reader.u64("limit")
                guard value >= 1, value <= UInt64(Int64.max) else { throw WireError(.malformed("limit \(name) out of range")) }
                limits[name] = Int(value)
            }
            guard (try? limits.validate()) != nil else { throw WireError(.malformed("initialize limits out of range")) }
            message = .initialize(
                WireInitialize(
                    workerID: workerID, heartbeatInterval: .nanoseconds(Int64(interval)), limits: limits, hostPID: hostPID))
        case .workerReady:
            let pid = try reader.i32("pid")
            let count = try reader.u32("kind count")
            guard count <= 100_000 else { throw WireError(.malformed("\(count) kinds")) }
            var kinds: [String] = []
            for _ in 0..<count { kinds.append(try reader.string("kind")) }
            message = .workerReady(pid: pid, kinds: kinds)
        case .job:
            let id = try reader.string("job id")
            let attempt = try reader.attempt()
            let kindName = try reader.string("kind")
            let level = try reader.u8("priority")
            guard let priority = Priority(rawValue: Int(level)) else { throw WireError(.malformed("priority level \(level)")) }
            let flags = try reader.u8("flags")
            guard flags & ~7 == 0 else { throw WireError(.malformed("job flags \(flags)")) }
            let payload = try reader.blob("payload")
            var trace: [String: String] = [:]
            if flags & 4 != 0 {
                let count = try reader.u32("trace header count")
                guard (1...UInt32(TraceHeaders.maxCount)).contains(count) else { throw WireError(.malformed("\(count) trace headers")) }
                for _ in 0..<count { trace[try reader.string("trace header name")] = try reader.string("trace header value") }
                guard (try? TraceHeaders(trace)) != nil else { throw WireError(.malformed("trace headers out of bounds")) }
            }
            message = .job(
                WireJob(
                    id: id, attempt: attempt, kind: kindName, priority: priority, payload: payload,
                    ignoresUnknownKeys: flags & 1 != 0, announcesStart: flags & 2 != 0, trace: trace))
        case .jobStarted:
            message = .jobStarted(id: try reader.string("job id"), attempt: try reader.attempt())
        case .cancel:
            message = .cancel(id: try reader.string("job id"), attempt: try reader.attempt())
        case .jobProgress:
            let id = try reader.string("job id")
            let attempt = try reader.attempt()
            let fraction = try reader.f64("fraction")
            guard fraction.isFinite else { throw WireError(.malformed("progress \(fraction)")) }
            message = .jobProgress(id: id, attempt: attempt, fraction: min(max(fraction, 0), 1), message: try reader.optionalString("message"))
        case .jobCompleted:
            message = .jobCompleted(id: try reader.string("job id"), attempt: try reader.attempt(), result: try reader.blob("result"))
        case .jobFailed:
            let id = try reader.string("job id")
            let attempt = try reader.attempt()
            let code = try reader.string("error code")
            let text = try reader.string("error message")
            let retryable: Bool? =
                switch try reader.u8("retryable flag") {
                case 0: false
                case 1: true
                case 2: nil
                case let flag: throw WireError(.malformed("retryable flag \(flag)"))
                }
            let flags = try reader.u8("failure flags")
            guard flags & ~3 == 0 else { throw WireError(.malformed("failure flags \(flags)")) }
            var failure = WireFailure(code: code, message: text, retryable: retryable, cancelled: flags & 1 != 0)
            if flags & 2 != 0 { failure.snoozeMilliseconds = try reader.u64("snooze milliseconds") }
            message = .jobFailed(id: id, attempt: attempt, failure: failure)
        case .heartbeat:
            message = .heartbeat(sequence: try reader.u64("sequence"))
        case .terminate:
            message = .terminate
        case .workerError:
            message = .workerError(message: try reader.string("message"))
        }
        guard reader.isAtEnd else { throw WireError(.malformed("\(kind) frame has bytes after its body")) }
        return message
    }
}
