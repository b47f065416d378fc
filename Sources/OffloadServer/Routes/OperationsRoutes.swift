import Foundation
import Hummingbird
import Offload
import Prometheus

extension OffloadService {
    /// Health, readiness, metrics, the overview and its stream, and who needs a token.
    func addOperationsRoutes(to router: Router<ServerContext>) {
        router.get("/healthz") { _, _ in JSONBody.response(.object([("status", .string("ok"))])) }
        router.get("/readyz") { _, _ in
            let ready = await store.isReady()
            return JSONBody.response(.object([("status", .string(ready ? "ready" : "starting"))]), status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { request, _ in
            try access.require(.read, request)
            var bytes: [UInt8] = []
            metrics?.emit(into: &bytes)
            let (hits, misses, kept, keptBytes) = cards.counts
            bytes += Array("""
                # TYPE offload_cards_cache_hits counter
                offload_cards_cache_hits \(hits)
                # TYPE offload_cards_cache_misses counter
                offload_cards_cache_misses \(misses)
                # TYPE offload_cards_cached gauge
                offload_cards_cached \(kept)
                # TYPE offload_cards_cached_bytes gauge
                offload_cards_cached_bytes \(keptBytes)

                """.utf8)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        router.get("/v1/auth") { request, _ in
            JSONBody.response(.object([
                ("tokenRequired", .bool(access.tokenRequired)), ("publicReads", .bool(access.publicReads)),
                ("authenticated", .bool(access.isAuthenticated(request))),
            ]))
        }
        router.get("/v1/overview") { request, _ in
            try access.require(.read, request)
            return JSONBody.response(try await overviewJSON())
        }
        router.get("/v1/stream") { request, _ in
            try access.require(.read, request)
            return EventStream.response(dashboardStream())
        }
    }

    func overviewJSON() async throws -> JSONValue {
        try await store.overview().json(service: configuration.name, version: configuration.version, mode: store.mode,
                                        kinds: store.kinds, now: Date())
    }

    /// The overview each second and every job as it changes.
    private func dashboardStream() -> AsyncStream<EventStream.Message> {
        let (messages, continuation) = AsyncStream.makeStream(of: EventStream.Message.self, bufferingPolicy: .bufferingNewest(2_000))
        let changes = store.changes()
        let jobs = Task {
            for await job in changes { continuation.yield(EventStream.Message(id: nil, event: "job", data: job.json)) }
        }
        let overviews = Task {
            while !Task.isCancelled {
                if let overview = try? await overviewJSON() {
                    continuation.yield(EventStream.Message(id: nil, event: "overview", data: overview))
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        continuation.onTermination = { _ in
            jobs.cancel()
            overviews.cancel()
        }
        return messages
    }
}
