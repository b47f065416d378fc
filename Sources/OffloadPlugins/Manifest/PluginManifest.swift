public import Offload

/// A plugin's `plugin.json`, checked: what the plugin is, which module holds it, what it can do
/// and within which limits.
///
/// ```json
/// {"id":"json-upper","version":"1.2.0","module":"plugin.wasm","operations":["transform"],
///  "permissions":[],"limits":{"fuel":5000000,"memoryMb":16,"timeoutMs":500}}
/// ```
public struct PluginManifest: Sendable, Equatable {
    public enum Operation: String, Sendable, CaseIterable { case execute, validate, transform, analyze }

    public struct Limits: Sendable, Decodable, Equatable {
        public var fuel: UInt64?
        public var memoryMb: Int?
        public var timeoutMs: Int?
    }

    public var id: String
    public var version: SemanticVersion
    /// The module's file name, beside the manifest (`.wasm` or `.wat`).
    public var module: String
    public var operations: Set<Operation>
    /// Imports beyond `offload.log` and `offload.progress` the plugin asks for (`module.name`, or
    /// `module` for all of a module's); it gets those the host grants (``HostImport``).
    public var permissions: [String]
    public var limits: Limits
    /// The module's SHA-256 in hex, checked when given.
    public var sha256: String?

    private struct Raw: Decodable {
        var id: String
        var version: String
        var module: String
        var operations: [String]
        var permissions: [String]?
        var limits: Limits?
        var sha256: String?
    }

    /// Reads a manifest. - Throws: ``OffloadError/Code/invalidPlugin`` saying what is wrong.
    public init(json bytes: [UInt8], file: String) throws(OffloadError) {
        let raw: Raw
        do {
            raw = try JSONValueDecoder().decode(Raw.self, from: try JSONParser.parse(bytes), root: file)
        } catch let error as OffloadError {
            throw .plugin(.invalidPlugin, error.message)
        } catch {
            throw .plugin(.invalidPlugin, "\(file) is not valid JSON: \(error)")
        }
        guard !raw.id.isEmpty, raw.id.count <= 64, raw.id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw .plugin(.invalidPlugin, "\(file): id '\(raw.id)' must be 1 to 64 letters, digits, '-', '_' or '.'")
        }
        guard let version = SemanticVersion(raw.version) else {
            throw .plugin(.invalidPlugin, "\(file): version '\(raw.version)' is not a semantic version like 1.2.0")
        }
        guard raw.module.hasSuffix(".wasm") || raw.module.hasSuffix(".wat"), !raw.module.contains("/"), !raw.module.hasPrefix(".") else {
            throw .plugin(.invalidPlugin, "\(file): module '\(raw.module)' must be a .wasm or .wat file beside the manifest")
        }
        var operations: Set<Operation> = []
        for name in raw.operations {
            guard let operation = Operation(rawValue: name) else {
                throw .plugin(
                    .invalidPlugin, "\(file): operation '\(name)' is not one of \(Operation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            operations.insert(operation)
        }
        guard !operations.isEmpty else {
            throw .plugin(.invalidPlugin, "\(file): operations must name at least one of execute, validate, transform, analyze")
        }
        let limits = raw.limits ?? Limits()
        if let fuel = limits.fuel, fuel == 0 { throw .plugin(.invalidPlugin, "\(file): limits.fuel must be positive") }
        if let memory = limits.memoryMb, !(1...4096).contains(memory) {
            throw .plugin(.invalidPlugin, "\(file): limits.memoryMb must be between 1 and 4096")
        }
        if let timeout = limits.timeoutMs, !(1...3_600_000).contains(timeout) {
            throw .plugin(.invalidPlugin, "\(file): limits.timeoutMs must be between 1 and 3600000")
        }
        if let sha256 = raw.sha256, sha256.count != 64 || !sha256.allSatisfy(\.isHexDigit) {
            throw .plugin(.invalidPlugin, "\(file): sha256 must be 64 hexadecimal digits")
        }
        id = raw.id
        self.version = version
        module = raw.module
        self.operations = operations
        permissions = raw.permissions ?? []
        self.limits = limits
        sha256 = raw.sha256?.lowercased()
    }
}
