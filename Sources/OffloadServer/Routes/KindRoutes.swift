import Hummingbird
import Offload

extension OffloadService {
    /// The kinds the service runs and their limits: `GET /v1/kinds`; `PUT /v1/kinds/{kind}`
    /// sets a kind's limits (`{"maxConcurrent":3,"rate":{"jobs":50,"perMs":1000},"paused":false}`,
    /// each optional: what is left out has no limit); `POST /v1/kinds/{kind}/pause` and
    /// `…/resume` hold its jobs back or let them start, its other limits kept. In memory they
    /// are the pool's; on PostgreSQL, the queue's, across its hosts.
    func addKindRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let reads = router.group().add(middleware: AccessCheck<Context>(access: access, need: .read))
        let writes = router.group().add(middleware: AccessCheck<Context>(access: access, need: .write))
        reads.get("/v1/kinds") { _, _ in
            let limits = try await store.kindLimits()
            let kinds = Set(store.kinds).union(limits.keys).sorted()
            return JSONBody.response(.object([("kinds", .array(kinds.map { KindLimitsJSON.entry($0, limits[$0]) }))]))
        }
        writes.put("/v1/kinds/{kind}") { request, context in
            try limit(self.writes, request, context: context)
            let kind = try knownKind(context)
            let limits = try KindLimitsJSON.read(try await JSONBody.read(request, limit: configuration.maxBodyBytes))
            do { try await store.setLimits(limits, for: kind) } catch let error as OffloadError { throw APIError(error) }
            return JSONBody.response(KindLimitsJSON.entry(kind, try await store.kindLimits()[kind]))
        }
        for (action, paused) in [("pause", true), ("resume", false)] {
            writes.post("/v1/kinds/{kind}/\(action)") { request, context in
                try limit(self.writes, request, context: context)
                let kind = try knownKind(context)
                try await store.setPaused(paused, kind: kind)
                return JSONBody.response(KindLimitsJSON.entry(kind, try await store.kindLimits()[kind]))
            }
        }
    }

    /// The `{kind}` of the path: one the service runs.
    private func knownKind(_ context: some RequestContext) throws -> String {
        let kind = try context.parameters.require("kind")
        guard store.kinds.contains(kind) else {
            throw APIError(.notFound, code: "unknownKind", "this service runs no kind \(OffloadError.quote(kind))")
        }
        return kind
    }
}

/// ``KindLimits`` as the API reads and writes them.
enum KindLimitsJSON {
    static func entry(_ kind: String, _ limits: KindLimits?) -> JSONValue {
        let limits = limits ?? KindLimits()
        return .object([
            ("kind", .string(kind)),
            ("maxConcurrent", limits.maxConcurrent.map { .int(Int64($0)) } ?? .null),
            ("rate", limits.rate.map { .object([("jobs", .int(Int64($0.jobs))), ("perMs", .int(Int64($0.per.milliseconds)))]) } ?? .null),
            ("paused", .bool(limits.isPaused))
        ])
    }

    static func read(_ body: JSONValue) throws(APIError) -> KindLimits {
        guard case .object(let members) = body else { throw APIError.badRequest("the body must be an object", field: nil) }
        if let unknown = members.first(where: { !["maxConcurrent", "rate", "paused"].contains($0.key) }) {
            throw APIError.badRequest(
                "unknown field \(OffloadError.quote(unknown.key)) (known: maxConcurrent, rate, paused)", field: unknown.key)
        }
        var limits = KindLimits()
        switch body["maxConcurrent"] {
        case nil, .null?: break
        case let value?:
            guard let count = wholeNumber(value), (1...KindLimits.maxJobs).contains(count) else {
                throw APIError.badRequest("maxConcurrent must be a whole number from 1 to \(KindLimits.maxJobs)", field: "maxConcurrent")
            }
            limits.maxConcurrent = count
        }
        switch body["rate"] {
        case nil, .null?: break
        case .object(let rate)?:
            if let unknown = rate.first(where: { !["jobs", "perMs"].contains($0.key) }) {
                throw APIError.badRequest("unknown field \(OffloadError.quote(unknown.key)) of rate (known: jobs, perMs)", field: "rate")
            }
            guard let jobs = wholeNumber(body["rate"]?["jobs"]), (1...KindLimits.maxJobs).contains(jobs) else {
                throw APIError.badRequest("rate.jobs must be a whole number from 1 to \(KindLimits.maxJobs)", field: "rate")
            }
            let maxMs = Int(KindLimits.maxInterval.milliseconds)
            guard let perMs = wholeNumber(body["rate"]?["perMs"]), (1...maxMs).contains(perMs) else {
                throw APIError.badRequest("rate.perMs must be a whole number of milliseconds from 1 to \(maxMs)", field: "rate")
            }
            limits.rate = KindLimits.Rate(jobs: jobs, per: .milliseconds(perMs))
        default:
            throw APIError.badRequest("rate must be an object {\"jobs\": N, \"perMs\": MS}", field: "rate")
        }
        switch body["paused"] {
        case nil, .null?: break
        case .bool(let paused)?: limits.isPaused = paused
        default: throw APIError.badRequest("paused must be true or false", field: "paused")
        }
        return limits
    }

    /// A JSON number that is a whole number a limit may be (not 2.5, not 1e300).
    private static func wholeNumber(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let number)?: return Int(exactly: number)
        case .double(let number)? where number.rounded() == number && abs(number) < 1e15: return Int(number)
        default: return nil
        }
    }
}
