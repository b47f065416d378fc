import CPangoCairo
import CRsvg
import Offload

/// A logo or background: a decoded raster (PNG, JPEG, WebP) or an SVG drawn at the size asked
/// for (through librsvg, so it stays sharp).
final class Picture: @unchecked Sendable {
    // `@unchecked Sendable`: a picture is made and drawn by one job on one thread.
    private enum Content {
        case raster(OpaquePointer)
        case svg(OpaquePointer)
    }

    private let content: Content
    /// The natural size in pixels.
    let width: Double
    let height: Double

    /// - Parameter budget: the job's pixel budget, charged with a raster picture's pixels.
    init(bytes: [UInt8], field: String, budget: inout PixelBudget) throws(OffloadError) {
        if RasterDecoder.format(of: bytes) != nil {
            // Straight from the decoder's rows into the surface: one copy of the pixels, not two.
            let canvas = try RasterDecoder.withDecoded(bytes, field: field, maxPixels: CardSpec.maxPixels, budget: &budget) {
                width, height, rgba throws(OffloadError) in
                let canvas = try Canvas(width: width, height: height)
                PixelBuffer.modify(canvas) { buffer in
                    for y in 0..<height {
                        for x in 0..<width {
                            let p = rgba + (y * width + x) * 4
                            buffer.setWord(x, y, PixelBuffer.pack(Double(p[0]) / 255, Double(p[1]) / 255, Double(p[2]) / 255, Double(p[3]) / 255))
                        }
                    }
                }
                return canvas
            }
            content = .raster(cairo_surface_reference(canvas.surface))
            width = Double(canvas.width)
            height = Double(canvas.height)
            return
        }
        guard Self.looksLikeSVG(bytes) else {
            throw OffloadError(.invalidPayload, "\(field): not a PNG, JPEG, WebP or SVG image")
        }
        var error: UnsafeMutablePointer<GError>?
        let handle = bytes.withUnsafeBufferPointer { rsvg_handle_new_from_data($0.baseAddress, gsize($0.count), &error) }
        guard let handle else {
            let message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            if let error { g_error_free(error) }
            throw OffloadError(.invalidPayload, "\(field): the SVG does not parse: \(message)")
        }
        var naturalWidth = 0.0
        var naturalHeight = 0.0
        if rsvg_handle_get_intrinsic_size_in_pixels(handle, &naturalWidth, &naturalHeight) == 0 || naturalWidth <= 0 || naturalHeight <= 0 {
            // No width and height: take the viewBox's proportions at 512 px wide.
            var hasWidth: gboolean = 0, hasHeight: gboolean = 0, hasViewBox: gboolean = 0
            var w = RsvgLength(), h = RsvgLength(), box = RsvgRectangle()
            rsvg_handle_get_intrinsic_dimensions(handle, &hasWidth, &w, &hasHeight, &h, &hasViewBox, &box)
            (naturalWidth, naturalHeight) = hasViewBox != 0 && box.width > 0 && box.height > 0 ? (512, 512 * box.height / box.width) : (512, 512)
        }
        content = .svg(OpaquePointer(handle))
        width = naturalWidth
        height = naturalHeight
    }

    /// A picture charged to no job's budget.
    convenience init(bytes: [UInt8], field: String) throws(OffloadError) {
        var budget = PixelBudget(limit: .max)
        try self.init(bytes: bytes, field: field, budget: &budget)
    }

    deinit {
        switch content {
        case .raster(let surface): cairo_surface_destroy(surface)
        case .svg(let handle): g_object_unref(UnsafeMutableRawPointer(handle))
        }
    }

    private static func looksLikeSVG(_ bytes: [UInt8]) -> Bool {
        let head = String(decoding: bytes.prefix(1024), as: UTF8.self)
        return head.contains("<svg")
    }

    /// Draws the picture scaled to `box` (x, y, width, height), at `opacity`.
    func draw(in box: (x: Double, y: Double, width: Double, height: Double), opacity: Double, on context: OpaquePointer) {
        cairo_save(context)
        switch content {
        case .raster(let surface):
            cairo_rectangle(context, box.x, box.y, box.width, box.height)
            cairo_clip(context)
            cairo_translate(context, box.x, box.y)
            cairo_scale(context, box.width / width, box.height / height)
            cairo_set_source_surface(context, surface, 0, 0)
            cairo_pattern_set_filter(cairo_get_source(context), CAIRO_FILTER_GOOD)
            cairo_paint_with_alpha(context, opacity)
        case .svg(let handle):
            cairo_push_group(context)
            var viewport = RsvgRectangle(x: box.x, y: box.y, width: box.width, height: box.height)
            var error: UnsafeMutablePointer<GError>?
            _ = rsvg_handle_render_document(UnsafeMutablePointer(handle), context, &viewport, &error)
            if let error { g_error_free(error) }
            cairo_pop_group_to_source(context)
            cairo_paint_with_alpha(context, opacity)
        }
        cairo_restore(context)
    }
}
