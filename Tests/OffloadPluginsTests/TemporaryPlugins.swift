import Foundation

/// A folder of plugins written for one test (removed with `remove()`): each a `module.wat` and
/// a `plugin.json` whose `extra` fields (`"permissions":[…]`…) follow id, version and module.
struct TemporaryPlugins {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-plugins-\(UUID().uuidString)").path

    init(_ plugins: [(id: String, operations: String, extra: String)], module: String) throws {
        for plugin in plugins {
            let folder = directory + "/" + plugin.id
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try module.write(toFile: folder + "/module.wat", atomically: true, encoding: .utf8)
            try #"{"id":"\#(plugin.id)","version":"1.0.0","module":"module.wat","operations":\#(plugin.operations)\#(plugin.extra)}"#
                .write(toFile: folder + "/plugin.json", atomically: true, encoding: .utf8)
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
