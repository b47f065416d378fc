import Hummingbird
import Offload
import OffloadJobFiles

extension OffloadService {
    /// Periodic jobs: `GET /v1/schedules` (each with its next tick, last run and that run's
    /// job), `POST /v1/schedules` (a schedule line: adds it, or replaces the one of its name),
    /// `DELETE /v1/schedules/{name}`, `POST /v1/schedules/{name}/pause` and `…/resume`. In
    /// memory they are the pool's; on PostgreSQL, the queue's, each tick run once across hosts.
    func addScheduleRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let reads = router.group().add(middleware: AccessCheck<Context>(access: access, need: .read))
        let writes = router.group().add(middleware: AccessCheck<Context>(access: access, need: .write))
        reads.get("/v1/schedules") { _, _ in
            JSONBody.response(.object([("schedules", .array(try await store.schedules().map(ScheduleLine.view)))]))
        }
        writes.post("/v1/schedules") { request, context in
            try limit(self.writes, request, context: context)
            let body = try await JSONBody.read(request, limit: configuration.maxBodyBytes)
            let schedule: Schedule
            do { schedule = try ScheduleLine.parse(body, knownKinds: Set(store.kinds)) } catch let error as OffloadError {
                throw APIError(error, field: Self.field(of: error))
            }
            // Its job is checked as a submitted job is (timeout, payload, what the store holds).
            _ = try job(from: body["job"] ?? .null, at: "job")
            do { try await store.addSchedule(schedule) } catch let error as OffloadError { throw APIError(error) }
            guard let state = try await store.schedules().first(where: { $0.schedule.name == schedule.name }) else {
                throw APIError.notFound("the schedule \(OffloadError.quote(schedule.name)) was removed meanwhile")
            }
            return JSONBody.response(ScheduleLine.view(state), status: .created)
        }
        writes.delete("/v1/schedules/{name}") { request, context in
            try limit(self.writes, request, context: context)
            let name = try context.parameters.require("name")
            guard try await store.removeSchedule(name) else { throw Self.noSchedule(name) }
            return JSONBody.response(.object([("name", .string(name)), ("removed", .bool(true))]))
        }
        for (action, paused) in [("pause", true), ("resume", false)] {
            writes.post("/v1/schedules/{name}/\(action)") { request, context in
                try limit(self.writes, request, context: context)
                let name = try context.parameters.require("name")
                guard try await store.setSchedulePaused(paused, name: name),
                    let state = try await store.schedules().first(where: { $0.schedule.name == name })
                else { throw Self.noSchedule(name) }
                return JSONBody.response(ScheduleLine.view(state))
            }
        }
    }

    private static func noSchedule(_ name: String) -> APIError {
        APIError(.notFound, code: "notFound", "there is no schedule \(OffloadError.quote(name))")
    }

    /// The field an error of ``ScheduleLine/parse(_:knownKinds:)`` names (its message starts with it).
    private static func field(of error: OffloadError) -> String? {
        if error.code == .unknownKind { return "job.kind" }
        if error.message.hasPrefix("unknown field ") {
            return error.message.split(separator: "'").dropFirst().first.map(String.init)
        }
        let head = error.message.prefix { $0 != ":" && $0 != " " }
        return ScheduleLine.keys.contains(String(head)) ? String(head) : (head.hasPrefix("job.") ? String(head) : nil)
    }
}
