import CPangoCairo

/// A blurred text shadow: the text drawn into an alpha mask, blurred (a Gaussian of half the blur
/// radius, as CSS `text-shadow` draws it), then painted in the shadow's colour at its offset.
enum Shadow {
    static func draw(_ block: TextBlock, shadow: CardSpec.Shadow, x: Double, y: Double, on canvas: Canvas) {
        // Only the text's inked box, grown by the blur's reach, is masked and blurred.
        let ink = block.inkExtents
        guard ink.width > 0, ink.height > 0 else { return }
        let margin = Int((shadow.blur * 1.5).rounded(.up)) + 1
        let (width, height) = (ink.width + 2 * margin, ink.height + 2 * margin)
        guard let mask = cairo_image_surface_create(CAIRO_FORMAT_A8, Int32(width), Int32(height)),
            cairo_surface_status(mask) == CAIRO_STATUS_SUCCESS
        else { return }
        defer { cairo_surface_destroy(mask) }
        let maskContext = cairo_create(mask)!
        cairo_set_source_rgba(maskContext, 0, 0, 0, 1)
        pango_cairo_update_layout(maskContext, block.layout)
        block.show(on: maskContext, x: Double(margin - ink.x), y: Double(margin - ink.y))
        cairo_destroy(maskContext)
        pango_cairo_update_layout(canvas.context, block.layout)
        if shadow.blur > 0 {
            cairo_surface_flush(mask)
            BoxBlur.apply(
                cairo_image_surface_get_data(mask)!, width: width, height: height,
                stride: Int(cairo_image_surface_get_stride(mask)), channels: 1, sigma: shadow.blur / 2)
            cairo_surface_mark_dirty(mask)
        }
        shadow.color.setSource(on: canvas.context)
        cairo_mask_surface(canvas.context, mask, x + Double(ink.x - margin) + shadow.offsetX, y + Double(ink.y - margin) + shadow.offsetY)
    }
}
