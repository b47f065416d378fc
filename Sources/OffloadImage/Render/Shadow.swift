import CPangoCairo

/// A blurred text shadow: the text drawn into an alpha mask, blurred with three box passes (close
/// to a Gaussian of the given radius, as CSS `text-shadow` draws it), then painted in the
/// shadow's colour at its offset.
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
            boxBlur(cairo_image_surface_get_data(mask)!, width: width, height: height,
                    stride: Int(cairo_image_surface_get_stride(mask)), sigma: shadow.blur / 2)
            cairo_surface_mark_dirty(mask)
        }
        shadow.color.setSource(on: canvas.context)
        cairo_mask_surface(canvas.context, mask, x + Double(ink.x - margin) + shadow.offsetX, y + Double(ink.y - margin) + shadow.offsetY)
    }

    /// Three box blurs, horizontal then vertical, approximating a Gaussian of `sigma`.
    static func boxBlur(_ data: UnsafeMutablePointer<UInt8>, width: Int, height: Int, stride: Int, sigma: Double) {
        let radius = max(1, Int((sigma * (12.0 / 3 + 1).squareRoot() / 2).rounded()))
        var line = [UInt8](repeating: 0, count: max(width, height))
        for _ in 0..<3 {
            for y in 0..<height {
                let row = data + y * stride
                for x in 0..<width { line[x] = row[x] }
                blurLine(line, count: width, radius: radius) { row[$0] = $1 }
            }
            for x in 0..<width {
                for y in 0..<height { line[y] = data[y * stride + x] }
                blurLine(line, count: height, radius: radius) { data[$0 * stride + x] = $1 }
            }
        }
    }

    private static func blurLine(_ source: [UInt8], count: Int, radius: Int, store: (Int, UInt8) -> Void) {
        let window = 2 * radius + 1
        var sum = 0
        for offset in -radius...radius { sum += Int(source[min(max(offset, 0), count - 1)]) }
        for index in 0..<count {
            store(index, UInt8((sum + window / 2) / window))
            let leaving = source[max(index - radius, 0)]
            let entering = source[min(index + radius + 1, count - 1)]
            sum += Int(entering) - Int(leaving)
        }
    }
}
