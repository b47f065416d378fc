import CPangoCairo
#if canImport(Glibc)
import Glibc
#endif
import Offload

/// Draws a card: the backdrop, then the title and description wrapped to the width inside the
/// padding, as one block centred vertically, with the text's shadow, outline or gradient.
enum CardRenderer {
    static let titleLines = 3
    static let descriptionLines = 3

    static func render(_ spec: CardSpec, pictures: CardPictures = CardPictures()) throws(OffloadError) -> Canvas {
        let canvas = try Canvas(width: spec.width, height: spec.height)
        paintBackground(spec, pictures: pictures, on: canvas)
        drawContent(spec, pictures: pictures, on: canvas)
        return canvas
    }

    /// The backdrop and the background picture: what stays still when the card is animated.
    static func paintBackground(_ spec: CardSpec, pictures: CardPictures, on canvas: Canvas) {
        paintBackdrop(spec.backdrop, on: canvas)
        if let background = pictures.background {
            // CSS `background-size: cover`, centred.
            let scale = max(Double(spec.width) / background.width, Double(spec.height) / background.height)
            let (w, h) = (background.width * scale, background.height * scale)
            background.draw(
                in: ((Double(spec.width) - w) / 2, (Double(spec.height) - h) / 2, w, h), opacity: spec.backgroundImageOpacity, on: canvas.context)
        }
    }

    /// The layers, logo, title and description: what an animation moves. Layers below z 0 go
    /// beneath the card's own content, the others above it, each in z order.
    static func drawContent(_ spec: CardSpec, pictures: CardPictures, on canvas: Canvas) {
        let ordered = spec.layers.enumerated().sorted { ($0.element.zIndex, $0.offset) < ($1.element.zIndex, $1.offset) }
        for (index, layer) in ordered where layer.zIndex < 0 {
            LayerRenderer.draw(layer, picture: pictures.layers[index], on: canvas)
        }
        drawCardText(spec, pictures: pictures, on: canvas)
        for (index, layer) in ordered where layer.zIndex >= 0 {
            LayerRenderer.draw(layer, picture: pictures.layers[index], on: canvas)
        }
    }

    private static func drawCardText(_ spec: CardSpec, pictures: CardPictures, on canvas: Canvas) {
        let context = canvas.context
        if let logo = pictures.logo { drawLogo(logo, spec: spec, on: context) }
        guard !spec.title.trimmingSpaces().isEmpty else { return }

        let textWidth = Double(spec.width) - 2 * spec.padding
        let align = TextAlignment(spec.textAlign)
        let title = TextBlock(
            context: context, text: spec.title, family: spec.fontFamily, bold: true, size: spec.titleFontSize,
            width: textWidth, maxLines: titleLines, align: align, lineSpacing: 1.1)
        let description = spec.description.map {
            TextBlock(
                context: context, text: $0, family: spec.fontFamily, bold: false, size: spec.descriptionFontSize,
                width: textWidth, maxLines: descriptionLines, align: align, lineSpacing: 1.3)
        }
        let gap = description == nil ? 0 : spec.descriptionFontSize * 0.9
        let blockHeight = title.size.height + gap + (description?.size.height ?? 0)
        let top = max(spec.padding, (Double(spec.height) - blockHeight) / 2)

        var style = TextStyle(color: spec.textColor, align: spec.textAlign, shadow: spec.shadow, outline: spec.outline, gradient: spec.gradient)
        draw(title, style: style, x: spec.padding, y: top, on: canvas)
        if let description {
            style.color.alpha *= 0.82
            draw(description, style: style, x: spec.padding, y: top + title.size.height + gap, on: canvas)
        }
    }

    /// The logo fits a box 14 % of the card's height tall and 30 % of its width wide, at its
    /// position inside the padding.
    private static func drawLogo(_ logo: Picture, spec: CardSpec, on context: OpaquePointer) {
        let (cardWidth, cardHeight) = (Double(spec.width), Double(spec.height))
        let scale = min(cardHeight * 0.14 / logo.height, cardWidth * 0.3 / logo.width)
        let (w, h) = (logo.width * scale, logo.height * scale)
        let inset = min(spec.padding, cardHeight * 0.08)
        let (left, right, top, bottom) = (inset, cardWidth - inset - w, inset, cardHeight - inset - h)
        let origin: (Double, Double) =
            switch spec.logoPosition {
            case .topLeft: (left, top)
            case .topRight: (right, top)
            case .bottomLeft: (left, bottom)
            case .bottomRight: (right, bottom)
            case .center: ((cardWidth - w) / 2, (cardHeight - h) / 2)
            }
        logo.draw(in: (origin.0, origin.1, w, h), opacity: 1, on: context)
    }

    private static func paintBackdrop(_ backdrop: CardSpec.Backdrop, on canvas: Canvas) {
        let context = canvas.context
        let (width, height) = (Double(canvas.width), Double(canvas.height))
        switch backdrop {
        case .solid(let color):
            color.setSource(on: context)
            cairo_paint(context)
        case .linear(let angle, let colors):
            // CSS: 0deg points up, 90deg right; the gradient line spans the box through its centre.
            let radians = angle * .pi / 180
            let (dx, dy) = (sin(radians), -cos(radians))
            let half = (abs(width * dx) + abs(height * dy)) / 2
            let (cx, cy) = (width / 2, height / 2)
            let pattern = cairo_pattern_create_linear(cx - dx * half, cy - dy * half, cx + dx * half, cy + dy * half)!
            fill(with: pattern, colors: colors, on: context)
        case .radial(let colors):
            let (cx, cy) = (width / 2, height / 2)
            let pattern = cairo_pattern_create_radial(cx, cy, 0, cx, cy, (cx * cx + cy * cy).squareRoot())!
            fill(with: pattern, colors: colors, on: context)
        }
    }

    private static func fill(with pattern: OpaquePointer, colors: [CSSColor], on context: OpaquePointer) {
        for (index, color) in colors.enumerated() {
            color.addStop(to: pattern, at: Double(index) / Double(colors.count - 1))
        }
        cairo_set_source(context, pattern)
        cairo_paint(context)
        cairo_pattern_destroy(pattern)
    }

    /// How a block of text is painted.
    struct TextStyle {
        var color: CSSColor
        var align: TextAlign
        var shadow: CardSpec.Shadow?
        var outline: CardSpec.Outline?
        var gradient: CardSpec.Gradient?
    }

    static func draw(_ block: TextBlock, style: TextStyle, x: Double, y: Double, on canvas: Canvas) {
        let context = canvas.context
        let color = style.color
        if let shadow = style.shadow {
            Shadow.draw(block, shadow: shadow, x: x, y: y, on: canvas)
        }
        if let outline = style.outline, outline.width > 0 {
            block.addPath(on: context, x: x, y: y)
            outline.color.setSource(on: context)
            cairo_set_line_width(context, outline.width * 2)
            cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
            cairo_stroke(context)
        }
        guard let gradient = style.gradient else {
            color.setSource(on: context)
            block.show(on: context, x: x, y: y)
            return
        }
        // The gradient spans the text's box; its coordinates are fractions of that box.
        let size = block.size
        let offset =
            switch style.align {
            case .left: 0.0
            case .center: (Double(pango_layout_get_width(block.layout)) / Double(offload_pango_scale()) - size.width) / 2
            case .right: Double(pango_layout_get_width(block.layout)) / Double(offload_pango_scale()) - size.width
            }
        let (left, top) = (x + offset, y)
        let start = (left + gradient.start.x * size.width, top + gradient.start.y * size.height)
        let end = (left + gradient.end.x * size.width, top + gradient.end.y * size.height)
        let pattern: OpaquePointer =
            switch gradient.type {
            case .linear: cairo_pattern_create_linear(start.0, start.1, end.0, end.1)
            case .radial:
                cairo_pattern_create_radial(
                    start.0, start.1, 0, start.0, start.1,
                    ((end.0 - start.0) * (end.0 - start.0) + (end.1 - start.1) * (end.1 - start.1)).squareRoot())
            }
        for (index, stop) in gradient.colors.enumerated() {
            stop.addStop(to: pattern, at: Double(index) / Double(gradient.colors.count - 1))
        }
        block.addPath(on: context, x: x, y: y)
        cairo_set_source(context, pattern)
        cairo_fill(context)
        cairo_pattern_destroy(pattern)
    }
}
