public import Offload

/// A plugin written in Swift that the host application registers (`executionMode: trusted`):
/// it runs in a worker without a sandbox, under the same timeout as a sandboxed one.
public protocol TrustedPlugin: Sendable {
    var id: String { get }
    var version: SemanticVersion { get }
    var operations: Set<PluginManifest.Operation> { get }
    func run(_ operation: PluginManifest.Operation, input: JSONValue) async throws -> JSONValue
}
