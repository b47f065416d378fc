// swift-format-ignore-file
// (The docs show these lines as they are written here.)
import Offload
import OffloadData
import OffloadImage

/// The kinds this program runs, in the host and in its worker processes alike.
func makeRegistry() throws -> HandlerRegistry {
    var registry = HandlerRegistry()
    try registry.register(Resize())
    try registry.registerImage(outputDirectory: "out")
    try registry.registerData(outputDirectory: "out")
    return registry
}

@main struct App {
    static func main() async throws {
        let registry = try makeRegistry()
        // Started again as a worker process: runs jobs, never returns.
        WorkerProcess.runIfWorker(registry: registry)

        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(2))
        configuration.workerProcess.memoryLimit = 512 << 20
        try await WorkerPool.withPool(configuration: configuration, registry: registry) { pool in
            let resized = try await pool.submit(Resize.self, .init(path: "a.png", width: 600), priority: .high).value
            let card = try await pool.submit(ImageHandler.self, ImagePayload(params: CanvasOgParams(title: "Hello 🚀"))).value
            let totals = try await pool.submit(DataHandler.self, DataHandler.Payload(
                input: [["country": "FR", "amount": 12.5], ["country": "DE", "amount": 3], ["country": "FR", "amount": 7]],
                pipeline: [["op": "group", "by": ["country"], "aggregates": [["fn": "sum", "field": "amount", "as": "total"]]]]
            )).value
            print(resized.written, card.file ?? "", card.width, JSONValue.array(totals.records ?? []))
        }
    }
}
