import Hummingbird
import Offload

extension OffloadService {
    /// The most jobs one bulk request acts on: a filter that matches more answers `"more": true`
    /// and `"next"`, the cursor the client gives back as `"after"` to act on the next ones.
    static let maxBulkJobs = 1_000

    /// `POST /v1/jobs/bulk`: cancel or retry jobs named by id, or every job a filter matches
    /// (newest first, at most ``maxBulkJobs``): `{"action":"cancel"|"retry","ids":[…]}` or
    /// `{"action":…,"filter":{"state","kind","tag"},"after":ID}`. Answers how each job fared, counted.
    func addBulkRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let authorizedWrites = router.group().add(middleware: AccessCheck<Context>(access: access, need: .write))
        authorizedWrites.post("/v1/jobs/bulk") { request, context in
            try limit(writes, request, context: context)
            let body = try await JSONBody.read(request, limit: configuration.maxBodyBytes)
            let order = try BulkOrder(body)
            let (ids, more) = try await selection(of: order)
            var counts: [String: Int] = [:]
            for id in ids {
                switch order.action {
                case .cancel:
                    counts[try await store.cancel(id).rawValue, default: 0] += 1
                case .retry:
                    let outcome = try await store.retry(id) ? "retried" : (try await store.job(id) == nil ? "notFound" : "notRetryable")
                    counts[outcome, default: 0] += 1
                }
            }
            let names = order.action == .cancel ? ["cancelled", "requested", "alreadyFinished", "notFound"] : ["retried", "notRetryable", "notFound"]
            return JSONBody.response(
                .object([
                    ("action", .string(order.action.rawValue)), ("matched", .int(Int64(ids.count))), ("more", .bool(more)),
                    ("next", more ? ids.last.map { .string($0.rawValue) } ?? .null : .null),
                    ("results", .object(names.map { ($0, .int(Int64(counts[$0, default: 0]))) }))
                ]))
        }
    }

    /// The jobs `order` names, and whether its filter matched more than one request acts on.
    private func selection(of order: BulkOrder) async throws -> (ids: [JobID], more: Bool) {
        guard let filter = order.filter else { return (order.ids, false) }
        var ids: [JobID] = []
        var query = filter
        query.limit = 500
        query.after = order.after
        while ids.count < Self.maxBulkJobs {
            let page: JobPage
            do { page = try await store.jobs(query) } catch let error as OffloadError where error.code == .invalidPayload {
                // As the list answers a cursor it does not know.
                throw APIError(.notFound, code: "unknownCursor", error.message, field: "after")
            } catch let error as OffloadError {
                throw APIError(error)
            }
            ids += page.jobs.map(\.id)
            guard let next = page.next else { return (Array(ids.prefix(Self.maxBulkJobs)), ids.count > Self.maxBulkJobs) }
            query.after = next
        }
        return (Array(ids.prefix(Self.maxBulkJobs)), true)
    }
}

/// What a bulk request asks: an action, and the jobs by id or by filter.
struct BulkOrder {
    enum Action: String {
        case cancel, retry
    }

    var action: Action
    var ids: [JobID] = []
    var filter: JobQuery?
    /// With a filter: act on the jobs older than this one (the `next` of the previous answer).
    var after: JobID?

    init(_ body: JSONValue) throws(APIError) {
        guard case .object(let members) = body else { throw APIError.badRequest("the body must be an object", field: nil) }
        if let unknown = members.first(where: { !["action", "ids", "filter", "after"].contains($0.key) }) {
            throw APIError.badRequest("unknown field \(OffloadError.quote(unknown.key)) (known: action, ids, filter, after)", field: unknown.key)
        }
        guard let name = body["action"]?.stringValue, let action = Action(rawValue: name) else {
            throw APIError.badRequest("action must be \"cancel\" or \"retry\"", field: "action")
        }
        self.action = action
        switch (body["ids"], body["filter"]) {
        case (.array(let items)?, nil):
            guard body["after"] == nil else { throw APIError.badRequest("after goes with a filter, not with ids", field: "after") }
            guard !items.isEmpty, items.count <= OffloadService.maxBulkJobs else {
                throw APIError.badRequest("ids must name 1 to \(OffloadService.maxBulkJobs) jobs", field: "ids")
            }
            for item in items {
                guard let id = item.stringValue, !id.isEmpty, id.utf8.count <= 1_024 else {
                    throw APIError.badRequest("ids must be job ids (strings of 1 to 1,024 bytes)", field: "ids")
                }
                if !ids.contains(JobID(id)) { ids.append(JobID(id)) }
            }
        case (nil, .object(let criteria)?):
            var query = JobQuery()
            for (key, value) in criteria {
                guard let text = value.stringValue, !text.isEmpty else {
                    throw APIError.badRequest("filter.\(key) must be a non-empty string", field: "filter.\(key)")
                }
                guard try query.filter(key, text, field: "filter.\(key)") else {
                    throw APIError.badRequest(
                        "unknown filter \(OffloadError.quote(key)) (known: \(JobQuery.filterNames.joined(separator: ", ")))", field: "filter.\(key)")
                }
            }
            filter = query
            if let raw = body["after"] {
                guard let id = raw.stringValue, !id.isEmpty, id.utf8.count <= 1_024 else {
                    throw APIError.badRequest("after must be a job id (the next of the previous answer)", field: "after")
                }
                after = JobID(id)
            }
        default:
            throw APIError.badRequest("give either ids (an array) or filter (an object), not both", field: nil)
        }
    }
}
