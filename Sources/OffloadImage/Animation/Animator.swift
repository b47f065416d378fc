import CPangoCairo
import Offload

/// Renders the frames of an animated card: the background once, the content once on a
/// transparent layer, then each frame composes the two with the animations' opacity, offset,
/// scale and rotation at that time (about the content's centre).
enum Animator {
    /// The most frames one image may have.
    static let maxFrames = 150

    static func frames(_ spec: CardSpec, pictures: CardPictures) throws(OffloadError) -> [Canvas] {
        let background = try Canvas(width: spec.width, height: spec.height)
        CardRenderer.paintBackground(spec, pictures: pictures, on: background)
        let content = try Canvas(width: spec.width, height: spec.height)
        CardRenderer.drawContent(spec, pictures: pictures, on: content)
        cairo_surface_flush(content.surface)
        let count = spec.frameCount
        var frames: [Canvas] = []
        for index in 0..<count {
            try RenderStop.check()
            let time = Double(index) / spec.frameRate
            let frame = try Canvas(width: spec.width, height: spec.height)
            let context = frame.context
            cairo_set_source_surface(context, background.surface, 0, 0)
            cairo_paint(context)
            var (opacity, dx, dy, scale, angle) = (1.0, 0.0, 0.0, 1.0, 0.0)
            for animation in spec.animations {
                guard let progress = animation.progress(at: time) else { continue }
                switch animation.kind {
                case .fadeIn: opacity *= progress
                case .slideIn(let x, let y): (dx, dy) = (dx + x * (1 - progress), dy + y * (1 - progress))
                case .scaleIn(let from): scale *= from + (1 - from) * progress
                case .rotateIn(let degrees): angle += degrees * (1 - progress) * .pi / 180
                }
            }
            let (cx, cy) = (Double(spec.width) / 2, Double(spec.height) / 2)
            cairo_translate(context, cx + dx, cy + dy)
            cairo_rotate(context, angle)
            cairo_scale(context, scale, scale)
            cairo_translate(context, -cx, -cy)
            cairo_set_source_surface(context, content.surface, 0, 0)
            cairo_paint_with_alpha(context, min(max(opacity, 0), 1))
            cairo_identity_matrix(context)
            FilterPipeline.apply(spec.filters, to: frame)
            frames.append(frame)
        }
        return frames
    }
}
