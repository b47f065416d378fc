public import Offload

/// A card rendered and encoded in memory, without a pool (what an `image` job does before it
/// writes its file).
///
/// ```swift
/// let image = try CardImage.make(CardSpec(ImagePayload(params: CanvasOgParams(title: "Hello"))))
/// ```
public struct CardImage: Sendable {
    /// The encoded file.
    public var bytes: [UInt8]
    public var format: CardSpec.Format
    public var width: Int
    public var height: Int
    /// Drawing (and filters).
    public var renderTime: Duration
    public var encodeTime: Duration
    /// 1 for a still image.
    public var frames: Int

    /// Renders `spec` (its pictures read from `sources`, within `limits`), applies its filters
    /// and encodes it. Called from a task (as a job's handler is), it stops within milliseconds
    /// of the task's cancellation, throwing ``OffloadError/Code/cancelled``.
    public static func make(
        _ spec: CardSpec, sources: ImageSources = ImageSources(allowedRoots: ["."]),
        limits: ResourceLimits = ResourceLimits()
    ) throws(OffloadError) -> CardImage {
        FontWarmup.run()
        let start = ContinuousClock.now
        let pictures = try CardPictures(spec, sources: sources, limits: limits)
        try RenderStop.check()
        if !spec.animations.isEmpty || spec.format == .gif || spec.format == .apng {
            let frames = try Animator.frames(spec, pictures: pictures)
            try RenderStop.check()
            let rendered = ContinuousClock.now
            let bytes = try AnimationEncoder.encode(frames, as: spec.format, frameRate: spec.frameRate, loops: spec.loops, quality: spec.quality)
            return CardImage(
                bytes: bytes, format: spec.format, width: spec.width, height: spec.height,
                renderTime: rendered - start, encodeTime: .now - rendered, frames: frames.count)
        }
        let canvas = try CardRenderer.render(spec, pictures: pictures)
        try RenderStop.check()
        FilterPipeline.apply(spec.filters, to: canvas)
        try RenderStop.check()
        let rendered = ContinuousClock.now
        let bytes = try Encoder.encode(canvas, as: spec.format, quality: spec.quality)
        return CardImage(
            bytes: bytes, format: spec.format, width: spec.width, height: spec.height,
            renderTime: rendered - start, encodeTime: .now - rendered, frames: 1)
    }
}
