import Foundation
import Hummingbird
import Offload
import Prometheus

extension OffloadService {
    /// Health and readiness: public, for probes.
    func addHealthRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        router.get("/healthz") { _, _ in JSONBody.response(.object([("status", .string("ok"))])) }
        router.get("/readyz") { _, _ in
            // A store that does not answer in time (its database away) is not ready: a prober
            // gets its answer within the second, never a hanging request.
            let ready = await withTaskGroup(of: Bool?.self) { group in
                group.addTask { await store.isReady() }
                group.addTask {
                    try? await Task.sleep(for: Self.readinessTimeout)
                    return nil
                }
                defer { group.cancelAll() }
                return await group.next() ?? nil
            }
            let status =
                switch ready {
                case true?: "ready"
                case false?: "starting"
                case nil: "unavailable"
                }
            return JSONBody.response(.object([("status", .string(status))]), status: ready == true ? .ok : .serviceUnavailable)
        }
    }

    /// `GET /metrics`, behind the token unless reads are public.
    func addMetricsRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        router.group().add(middleware: AccessCheck<Context>(access: access, need: .read)).get("/metrics") { _, _ in
            let bytes = metricsPage()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// What the dashboard reads besides jobs: who needs a token, the overview and its stream,
    /// and the OpenAPI document.
    func addOverviewRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let reads = router.group().add(middleware: AccessCheck<Context>(access: access, need: .read))
        let document = openAPIDocument()
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: document)))
        }
        router.get("/v1/auth") { request, _ in
            JSONBody.response(
                .object([
                    ("tokenRequired", .bool(access.tokenRequired)), ("publicReads", .bool(access.publicReads)),
                    ("authenticated", .bool(access.isAuthenticated(request)))
                ]))
        }
        reads.get("/v1/overview") { _, _ in
            JSONBody.response(try await overviewJSON())
        }
        reads.get("/v1/stream") { _, _ in
            EventStream.response(dashboardStream())
        }
    }

    /// How long `/readyz` waits for the store's answer.
    static let readinessTimeout: Duration = .seconds(2)

    /// The OpenAPI document as this service serves it: its version (``OffloadService/version``, the
    /// one place it is written), and the kinds it runs listed as the values a job's `kind` and
    /// `capabilities` may take.
    func openAPIDocument() -> [UInt8] {
        guard var document = try? JSONParser.parse(PackageResources.openapi_json) else { return PackageResources.openapi_json }
        let kinds: JSONValue = .array(store.kinds.map { .string($0) })
        for schema in ["NewJob", "ScheduleJob"] {
            let job = ["components", "schemas", schema, "properties"]
            document = document.setting(job + ["kind", "enum"], to: kinds).setting(job + ["capabilities", "items", "enum"], to: kinds)
                .setting(job + ["timeoutMs", "maximum"], to: .int(Int64(configuration.maxJobTimeout.milliseconds)))
        }
        document = document.setting(["info", "version"], to: .string(OffloadService.version))
        var bytes: [UInt8] = []
        JSONWriter.write(document, into: &bytes)
        return bytes
    }

    func overviewJSON() async throws -> JSONValue {
        try await store.overview().json(
            service: configuration.name, version: configuration.version, mode: store.mode,
            kinds: store.kinds, now: Date())
    }

    /// The overview each second and every job as it changes (without its payload and result:
    /// the dashboard reads those with the job).
    private func dashboardStream() -> BoundedStream<EventStream.Message> {
        let messages = EventStream.messages(configuration.streamLimits)
        EventStream.relay(store.changes(), into: messages) { job in EventStream.Message(id: nil, event: "job", data: job.summaryJSON) }
        let overviews = Task {
            while !Task.isCancelled && !messages.isEnded {
                if let overview = try? await overviewJSON() {
                    let message = EventStream.Message(id: nil, event: "overview", data: overview)
                    messages.push(message, bytes: message.bytes.count)
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        messages.onTermination { overviews.cancel() }
        return messages
    }
}

extension JSONValue {
    /// The value with the member at `path` (object keys) set, objects made on the way.
    func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var members: [(key: String, value: JSONValue)] = []
        if case .object(let existing) = self { members = existing }
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = members[index].value.setting(Array(path.dropFirst()), to: value)
        } else {
            members.append((key, JSONValue.object([]).setting(Array(path.dropFirst()), to: value)))
        }
        return .object(members)
    }
}
