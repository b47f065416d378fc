#if canImport(Glibc)
import Glibc
#endif
import CPangoCairo
public import Offload

/// The `image` job kind: renders an Open Graph card (1200×630 by default) with cairo and Pango
/// and writes it to the output folder as `<job id>.png` or `.jpg`, or (`"output": "inline"`)
/// returns the encoded image in its result.
///
/// ```swift
/// var registry = HandlerRegistry()
/// try registry.registerImage(outputDirectory: "out")
/// ```
public struct ImageHandler: JobHandler {
    public typealias Payload = ImagePayload

    /// What an `image` job returns.
    public struct Output: Codable, Sendable, Hashable {
        /// The file written, under the output folder; `nil` for an inline image.
        public var file: String?
        /// The encoded image in base64, for `"output": "inline"`.
        public var base64: String?
        public var format: String
        /// The encoded image's size.
        public var bytes: Int
        public var width: Int
        public var height: Int
        public var renderMs: Double
        public var encodeMs: Double
        /// 1 for a still image.
        public var frames: Int
    }

    /// Where images are written.
    public let outputDirectory: String
    /// Where logos and background pictures may be read from.
    public let sources: ImageSources

    public static let kind = "image"

    /// Room in a result for the fields around an inline image's base64.
    static let resultHeadroom = 1_024

    /// - Parameters:
    ///   - sources: the folders pictures may be read from (default: the working directory).
    ///   - warm: whether to start fontconfig now, on a thread of its own (a cold first render costs
    ///     50–120 ms; a worker process is ready meanwhile, and a render that comes first waits for it).
    public init(outputDirectory: String, sources: ImageSources = ImageSources(allowedRoots: ["."]), warm: Bool = true) {
        self.outputDirectory = outputDirectory
        self.sources = sources
        if warm { DedicatedThreads.start(name: "offload-fonts") { FontWarmup.run() } }
    }

    public func run(_ payload: ImagePayload, context: JobContext) async throws -> Output {
        let inline: Bool
        switch payload.output ?? "file" {
        case "file": inline = false
        case "inline": inline = true
        case let other:
            throw OffloadError(.invalidPayload, "output \(OffloadError.quote(other)) is not one of file, inline")
        }
        let spec = try CardSpec(payload)
        try context.checkCancellation()
        let image: CardImage
        do { image = try CardImage.make(spec, sources: sources, limits: context.limits) } catch {
            // Stopped because the pool asked: said the way the pool understands (a preempted job
            // then goes back to the queue instead of failing).
            if error.code == .cancelled { throw CancellationError() }
            throw error
        }
        // A job stopped after its last pixel writes nothing.
        try context.checkCancellation()
        var output = Output(
            file: nil, base64: nil, format: spec.format.rawValue, bytes: image.bytes.count, width: spec.width, height: spec.height,
            renderMs: image.renderTime.reportedMilliseconds, encodeMs: image.encodeTime.reportedMilliseconds, frames: image.frames)
        if inline {
            // The same bound in both isolations: what a frame from a worker process may carry.
            try context.limits.checkResult(bytes: (image.bytes.count + 2) / 3 * 4 + Self.resultHeadroom)
            output.base64 = Base64.encode(image.bytes)
        } else {
            let name = Self.fileName(for: context.jobID, format: spec.format)
            try OutputFile.write(image.bytes, to: outputDirectory, name: name)
            output.file = outputDirectory + "/" + name
        }
        return output
    }

    /// `<job id>.<ext>`, distinct for distinct ids (see ``OutputFile/name(for:extension:)``).
    static func fileName(for job: JobID, format: CardSpec.Format) -> String {
        OutputFile.name(for: job, extension: format.fileExtension)
    }
}

extension HandlerRegistry {
    /// Adds the `image` kind, writing to `outputDirectory` and reading pictures from `sources`.
    public mutating func registerImage(outputDirectory: String, sources: ImageSources = ImageSources(allowedRoots: ["."])) throws(OffloadError) {
        try register(ImageHandler(outputDirectory: outputDirectory, sources: sources), writingTo: outputDirectory)
    }
}

/// Starts fontconfig and Pango once per process, so that the first card does not pay for it.
enum FontWarmup {
    private static let done: Bool = {
        if let canvas = try? Canvas(width: 8, height: 8) {
            let block = TextBlock(
                context: canvas.context, text: "Warm up Aa 😀", family: "Inter", bold: true, size: 12,
                width: 8, maxLines: 1, align: .left, lineSpacing: 1)
            block.show(on: canvas.context, x: 0, y: 0)
        }
        return true
    }()

    static func run() { _ = done }
}
