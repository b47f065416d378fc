import CPangoCairo

/// Draws one layer: text wrapped to its width, a picture, or a shape. A layer with filters is
/// drawn on a transparent canvas of its own, filtered, then laid over the card.
enum LayerRenderer {
    static func draw(_ layer: LayerSpec, picture: Picture?, on canvas: Canvas) {
        guard !layer.filters.isEmpty, let own = try? Canvas(width: canvas.width, height: canvas.height) else {
            drawContent(layer, picture: picture, on: canvas)
            return
        }
        drawContent(layer, picture: picture, on: own)
        FilterPipeline.apply(layer.filters, to: own)
        cairo_set_source_surface(canvas.context, own.surface, 0, 0)
        cairo_paint(canvas.context)
    }

    private static func drawContent(_ layer: LayerSpec, picture: Picture?, on canvas: Canvas) {
        let context = canvas.context
        switch layer.content {
        case .text(let text):
            let block = TextBlock(
                context: context, text: text.content, family: text.fontFamily, bold: text.bold, size: text.fontSize,
                width: text.maxWidth, maxLines: text.maxLines, align: TextAlignment(text.textAlign),
                lineSpacing: text.lineHeight, letterSpacing: text.letterSpacing)
            let style = CardRenderer.TextStyle(
                color: text.color, align: text.textAlign, shadow: text.shadow, outline: text.outline, gradient: text.gradient)
            CardRenderer.draw(block, style: style, x: text.x, y: text.y, on: canvas)
        case .image(let image):
            guard let picture else { return }
            cairo_save(context)
            cairo_set_operator(context, operatorFor(image.blendMode))
            picture.draw(in: (image.x, image.y, image.width, image.height), opacity: image.opacity, on: context)
            cairo_restore(context)
        case .shape(let shape):
            cairo_new_path(context)
            switch shape.kind {
            case .rectangle(let radius):
                let r = min(radius, shape.width / 2, shape.height / 2)
                if r > 0 {
                    let (x, y, w, h) = (shape.x, shape.y, shape.width, shape.height)
                    cairo_new_sub_path(context)
                    cairo_arc(context, x + w - r, y + r, r, -.pi / 2, 0)
                    cairo_arc(context, x + w - r, y + h - r, r, 0, .pi / 2)
                    cairo_arc(context, x + r, y + h - r, r, .pi / 2, .pi)
                    cairo_arc(context, x + r, y + r, r, .pi, 3 * .pi / 2)
                    cairo_close_path(context)
                } else {
                    cairo_rectangle(context, shape.x, shape.y, shape.width, shape.height)
                }
            case .circle:
                // An ellipse inscribed in the box.
                cairo_save(context)
                cairo_translate(context, shape.x + shape.width / 2, shape.y + shape.height / 2)
                cairo_scale(context, max(shape.width / 2, 0.001), max(shape.height / 2, 0.001))
                cairo_arc(context, 0, 0, 1, 0, 2 * .pi)
                cairo_restore(context)
            case .line(let x2, let y2):
                cairo_move_to(context, shape.x, shape.y)
                cairo_line_to(context, x2, y2)
                cairo_set_line_cap(context, CAIRO_LINE_CAP_ROUND)
            }
            if let fill = shape.fill {
                fill.setSource(on: context)
                cairo_fill_preserve(context)
            }
            if let stroke = shape.stroke, shape.strokeWidth > 0 {
                stroke.setSource(on: context)
                cairo_set_line_width(context, shape.strokeWidth)
                cairo_stroke_preserve(context)
            }
            cairo_new_path(context)
        }
    }

    private static func operatorFor(_ blend: String) -> cairo_operator_t {
        switch blend {
        case "multiply": CAIRO_OPERATOR_MULTIPLY
        case "screen": CAIRO_OPERATOR_SCREEN
        case "overlay": CAIRO_OPERATOR_OVERLAY
        case "darken": CAIRO_OPERATOR_DARKEN
        case "lighten": CAIRO_OPERATOR_LIGHTEN
        case "colorDodge": CAIRO_OPERATOR_COLOR_DODGE
        case "colorBurn": CAIRO_OPERATOR_COLOR_BURN
        case "hardLight": CAIRO_OPERATOR_HARD_LIGHT
        case "softLight": CAIRO_OPERATOR_SOFT_LIGHT
        case "difference": CAIRO_OPERATOR_DIFFERENCE
        case "exclusion": CAIRO_OPERATOR_EXCLUSION
        default: CAIRO_OPERATOR_OVER
        }
    }
}
