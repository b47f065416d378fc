/// The handlers a pool runs, by kind name. A kind is registered once.
///
/// ```swift
/// var registry = HandlerRegistry()
/// try registry.register(Resize())
/// ```
public struct HandlerRegistry: Sendable {
    private var handlers: [String: AnyJobHandler] = [:]

    /// The folders the kinds write their files to (a kind registered with
    /// ``register(_:writingTo:)``), so that a store keeps those files without being told where.
    public private(set) var outputDirectories: [String] = []

    /// An empty registry.
    public init() {}

    /// Adds a handler.
    /// - Throws: ``OffloadError/Code/duplicateKind`` when the kind is taken, ``OffloadError/Code/invalidPayload``
    ///   when the kind name is empty.
    public mutating func register<H: JobHandler>(_ handler: H) throws(OffloadError) {
        guard !H.kind.isEmpty else { throw OffloadError(.invalidConfiguration, "a handler's kind must not be empty") }
        guard handlers[H.kind] == nil else {
            throw OffloadError(.duplicateKind, "a handler for kind '\(H.kind)' is already registered")
        }
        handlers[H.kind] = AnyJobHandler(handler)
    }

    /// Adds a handler that writes the files its results name under `outputDirectory`.
    public mutating func register<H: JobHandler>(_ handler: H, writingTo outputDirectory: String) throws(OffloadError) {
        try register(handler)
        if !outputDirectories.contains(outputDirectory) { outputDirectories.append(outputDirectory) }
    }

    /// The registered kind names, sorted.
    public var kinds: [String] { handlers.keys.sorted() }

    /// Whether a handler runs `kind`.
    public func contains(_ kind: String) -> Bool { handlers[kind] != nil }

    func handler(for kind: String) -> AnyJobHandler? { handlers[kind] }

    /// Checks that `payload` decodes as the payload of `kind`'s handler, without running it: a
    /// service can refuse a malformed job when it is submitted instead of when it fails.
    /// - Throws: ``OffloadError/Code/unknownKind``, or the ``OffloadError/Code/invalidPayload``
    ///   (naming the field) that running the job would end with.
    public func validate(_ payload: JobPayload, kind: String) throws(OffloadError) {
        guard let handler = handlers[kind] else {
            throw OffloadError(.unknownKind, "no handler for kind '\(kind)' (known: \(kinds.joined(separator: ", ")))")
        }
        try handler.check(payload)
    }

    /// The diagnostic kinds: `debug.echo`, `debug.sleep`, `debug.spin`, `debug.fail`, `debug.hang`,
    /// `debug.alloc` and `debug.crash`.
    public static var diagnostics: HandlerRegistry {
        var registry = HandlerRegistry()
        registry.registerDiagnostics()
        return registry
    }

    /// Adds the diagnostic kinds to this registry.
    public mutating func registerDiagnostics() {
        for handler in Diagnostics.handlers { handlers[handler.kind] = handler }
    }
}
