import Foundation
import Hummingbird
import Offload
import OffloadJobFiles

extension OffloadService {
    /// The jobs API: submit, list, read, cancel, retry, follow a job's events, read its files.
    /// Reads and writes sit behind the token check (``AccessCheck``) of their kind.
    func addJobRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let reads = router.group().add(middleware: AccessCheck<Context>(access: access, need: .read))
        let authorizedWrites = router.group().add(middleware: AccessCheck<Context>(access: access, need: .write))
        authorizedWrites.post("/v1/jobs") { request, context in try await submit(request, context: context) }
        reads.get("/v1/jobs") { request, _ in
            let page: JobPage
            do { page = try await store.jobs(try jobQuery(request)) } catch let error as OffloadError where error.code == .invalidPayload {
                throw APIError(.notFound, code: "unknownCursor", error.message, field: "after")
            }
            return JSONBody.response(.object([("jobs", .array(page.jobs.map(\.json))), ("next", page.next.map { .string($0.rawValue) } ?? .null)]))
        }
        reads.get("/v1/jobs/{id}") { request, context in
            let id = try jobID(context)
            guard let job = try await store.job(id) else { throw APIError.notFound("no job '\(id)'") }
            return JSONBody.response(job.json)
        }
        authorizedWrites.delete("/v1/jobs/{id}") { request, context in
            try limit(writes, request, context: context)
            let id = try jobID(context)
            let answer = try await store.cancel(id)
            guard answer != .notFound else { throw APIError.notFound("no job '\(id)'") }
            return JSONBody.response(.object([("id", .string(id.rawValue)), ("cancel", .string(answer.rawValue))]))
        }
        authorizedWrites.post("/v1/jobs/{id}/retry") { request, context in
            try limit(writes, request, context: context)
            let id = try jobID(context)
            guard let job = try await store.job(id) else { throw APIError.notFound("no job '\(id)'") }
            guard try await store.retry(id) else {
                throw APIError(.conflict, code: "notRetryable", "job '\(id)' is \(job.state.rawValue); only a failed or cancelled job is retried")
            }
            return JSONBody.response(.object([("id", .string(id.rawValue))]), status: .accepted)
        }
        reads.get("/v1/jobs/{id}/events") { request, context in
            let id = try jobID(context)
            guard let events = try await store.events(of: id) else { throw APIError.notFound("no job '\(id)'") }
            // A client reconnecting with the last id it saw gets only what came after.
            let seen = request.headers[.offloadLastEventID].flatMap { Int($0) } ?? 0
            let messages = EventStream.messages(configuration.streamLimits)
            EventStream.relay(events, into: messages) { event in
                guard (event.sequence ?? 0) > seen else { return nil }
                return EventStream.Message(id: event.sequence, event: event.name, data: event.json)
            }
            return EventStream.response(messages)
        }
        reads.get("/v1/artifacts/{sha256}") { request, context in
            let sha256 = context.parameters.get("sha256") ?? ""
            guard let file = try await store.artifact(sha256.lowercased()) else { throw APIError.notFound("no artifact '\(sha256.prefix(64))'") }
            let scope = access.publicReads || !access.tokenRequired ? "public" : "private"
            return CachedResponse.make(
                file.bytes, contentType: file.contentType, etag: file.sha256,
                cacheControl: "\(scope), max-age=31536000, immutable", request: request)
        }
    }

    private func jobID(_ context: some RequestContext) throws(APIError) -> JobID {
        guard let raw = context.parameters.get("id"), let text = QueryString.decode(Substring(raw.replacingOccurrences(of: "+", with: "%2B"))),
            !text.isEmpty, text.utf8.count <= 1_024
        else {
            throw APIError.badRequest("the job id must be 1 to 1,024 bytes of UTF-8", field: "id")
        }
        return JobID(text)
    }

    private func jobQuery(_ request: Request) throws(APIError) -> JobQuery {
        let values: [String: String]
        do { values = try QueryString.parse(request.uri.query ?? "") } catch {
            throw APIError.badRequest("the query is malformed (a name given twice or a bad %-escape)", field: nil)
        }
        var query = JobQuery()
        if let unknown = values.keys.sorted().first(where: { !(JobQuery.filterNames + ["limit", "after"]).contains($0) }) {
            throw APIError.badRequest(
                "unknown query parameter \(OffloadError.quote(unknown)) (known: state, kind, tag, q, limit, after)", field: unknown)
        }
        // An empty kind, tag or text filters nothing; an empty state is not a state.
        for name in JobQuery.filterNames {
            if let text = values[name], name == "state" || !text.isEmpty { _ = try query.filter(name, text, field: name) }
        }
        if let text = values["limit"] {
            guard let limit = Int(text), (1...500).contains(limit) else {
                throw APIError.badRequest("limit must be a whole number from 1 to 500", field: "limit")
            }
            query.limit = limit
        }
        if let after = values["after"], !after.isEmpty { query.after = JobID(after) }
        return query
    }

    /// `POST /v1/jobs`: one job or an array of them, in the job-line format; `?wait=MS` waits
    /// for their ends.
    private func submit(_ request: Request, context: some RequestContext) async throws -> Response {
        try limit(writes, request, context: context)
        var wait: Duration?
        if let query = request.uri.query, !query.isEmpty {
            let values: [String: String]
            do { values = try QueryString.parse(query) } catch { throw APIError.badRequest("the query is malformed", field: nil) }
            if let unknown = values.keys.first(where: { $0 != "wait" }) {
                throw APIError.badRequest("unknown query parameter \(OffloadError.quote(unknown)) (known: wait)", field: unknown)
            }
            if let text = values["wait"] {
                guard let ms = Int(text), (0...60_000).contains(ms) else {
                    throw APIError.badRequest("wait must be a whole number of milliseconds from 0 to 60000", field: "wait")
                }
                wait = .milliseconds(ms)
            }
        }
        let body = try await JSONBody.read(request, limit: configuration.maxBodyBytes)
        let items: [JSONValue]
        let isArray: Bool
        switch body {
        case .array(let array):
            guard !array.isEmpty else { throw APIError.badRequest("the array holds no job", field: nil) }
            guard array.count <= configuration.maxJobsPerRequest else {
                throw APIError.badRequest("at most \(configuration.maxJobsPerRequest) jobs a request (got \(array.count))", field: nil)
            }
            (items, isArray) = (array, true)
        case .object:
            (items, isArray) = ([body], false)
        default:
            throw APIError.badRequest("the body must be a job object or an array of them, not \(body.typeDescription)", field: nil)
        }
        var jobs: [Job] = []
        for (index, item) in items.enumerated() {
            jobs.append(try job(from: item, at: isArray ? "jobs[\(index)]" : nil, number: index + 1))
        }
        let ids: [JobID]
        do { ids = try await store.submit(jobs) } catch { throw APIError(error, field: error.code == .invalidDependency ? "dependsOn" : nil) }
        let idList: JSONValue = .array(ids.map { .string($0.rawValue) })
        guard let wait else { return JSONBody.response(.object([("ids", idList)]), status: .created) }
        var shown: [JSONValue] = []
        var allEnded = true
        let deadline = ContinuousClock.now + wait
        for id in ids {
            let left = max(.zero, deadline - .now)
            let view = try await store.waitForEnd(id, timeout: left)
            if view?.state.isFinished != true { allEnded = false }
            shown.append(view?.json ?? .null)
        }
        return JSONBody.response(.object([("ids", idList), ("jobs", .array(shown))]), status: allEnded ? .created : .accepted)
    }

    /// One job of the body, read as a line of a job file; `index` is its place in an array.
    /// A job line of a request, checked as the service checks every job it takes (its kind, its
    /// timeout, its payload, what the store can hold); `place` (`jobs[2]`, `job`) leads the
    /// error's message and field.
    func job(from value: JSONValue, at place: String?, number: Int = 1) throws(APIError) -> Job {
        var value = value
        // A job without an id gets a fresh one (a job file's default, its line number, would repeat).
        if case .object(var members) = value, !members.contains(where: { $0.key == "id" }) {
            members.insert(("id", .string(JobID.generate().rawValue)), at: 0)
            value = .object(members)
        }
        func refusal(_ error: OffloadError, field: String?) -> APIError {
            var message = error.message
            if message.hasPrefix("line "), let colon = message.firstIndex(of: ":") {
                message = String(message[message.index(colon, offsetBy: 2)...])
            }
            if let place { message = "\(place): \(message)" }
            var refusal = APIError(error, field: field.map { name in place.map { "\($0).\(name)" } ?? name })
            refusal.message = message
            return refusal
        }
        switch JobLine.parse(value, number: number, knownKinds: Set(store.kinds), maxDelay: configuration.maxDelay) {
        case .failure(let failure):
            var message = failure.error.message
            if let colon = message.firstIndex(of: ":") { message = String(message[message.index(colon, offsetBy: 2)...]) }
            let word = message.prefix { $0.isLetter }
            let field =
                failure.error.code == .unknownKind
                ? "kind"
                : JobLine.keys.contains(String(word))
                    ? String(word)
                    : message.hasPrefix("unknown key") ? message.split(separator: "'").dropFirst().first.map(String.init) : nil
            throw refusal(failure.error, field: field)
        case .success(let job):
            if let timeout = job.timeout, timeout > configuration.maxJobTimeout {
                throw refusal(
                    OffloadError(
                        .invalidPayload,
                        "timeoutMs must be at most \(Int(configuration.maxJobTimeout.milliseconds)) (--max-timeout-ms) on this service"),
                    field: "timeoutMs")
            }
            if let registry {
                do throws(OffloadError) { try registry.validate(job.payload, kind: job.kind) } catch {
                    throw refusal(error, field: Self.payloadField(of: error))
                }
            }
            do throws(OffloadError) { try store.check(job) } catch {
                let word = String(error.message.prefix { $0.isLetter })
                throw refusal(error, field: JobLine.keys.contains(word) ? word : word == "uniqueKey" ? nil : "payload")
            }
            return job
        }
    }

    /// `payload.params.title` for a payload error naming it, else `payload`.
    static func payloadField(of error: OffloadError) -> String {
        guard let range = error.message.range(of: "payload") else { return "payload" }
        let path = error.message[range.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "." || $0 == "[" || $0 == "]" }
        return path.hasSuffix(".") ? String(path.dropLast()) : String(path)
    }
}

extension JobQuery {
    /// The filters a list or a bulk action takes.
    static let filterNames = ["state", "kind", "tag", "q"]

    /// Sets the filter `name` (one of ``filterNames``) to `text`, refused as `field` when it is
    /// not a state or not a tag; `false` for a name that is no filter.
    mutating func filter(_ name: String, _ text: String, field: String) throws(APIError) -> Bool {
        switch name {
        case "state":
            guard let state = JobState(rawValue: text) else {
                throw APIError.badRequest("\(field) must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))", field: field)
            }
            self.state = state
        case "kind":
            kind = text
        case "tag":
            do { try Job.validate(tags: [text]) } catch { throw APIError.badRequest(error.message, field: field) }
            tag = text
        case "q":
            guard !text.isEmpty, text.unicodeScalars.count <= Self.maxTextLength, !text.utf8.contains(0) else {
                throw APIError.badRequest("\(field): 1 to \(Self.maxTextLength) characters of text, without U+0000", field: field)
            }
            self.text = text
        default:
            return false
        }
        return true
    }
}
