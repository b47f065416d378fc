import CPangoCairo
import Offload

/// A cairo ARGB32 image surface and its drawing context, released together.
final class Canvas {
    let surface: OpaquePointer
    let context: OpaquePointer
    let width: Int
    let height: Int

    init(width: Int, height: Int) throws(OffloadError) {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height)),
            cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS
        else {
            throw OffloadError(.handlerFailed, "cairo could not make a \(width)×\(height) surface")
        }
        self.surface = surface
        self.context = cairo_create(surface)
        self.width = width
        self.height = height
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    /// The pixels, after cairo has finished drawing: premultiplied ARGB32 words.
    func withPixels<T>(_ body: (UnsafePointer<UInt8>, _ stride: Int) throws -> T) rethrows -> T {
        cairo_surface_flush(surface)
        let data = cairo_image_surface_get_data(surface)!
        return try body(UnsafePointer(data), Int(cairo_image_surface_get_stride(surface)))
    }

    /// The colour at (x, y), un-premultiplied, as 0…255 components (for tests and checks).
    func pixel(x: Int, y: Int) -> (red: Int, green: Int, blue: Int, alpha: Int) {
        withPixels { data, stride in
            let word = UnsafeRawPointer(data + y * stride + x * 4).loadUnaligned(as: UInt32.self)
            let alpha = Int(word >> 24)
            func channel(_ shift: UInt32) -> Int {
                let value = Int(word >> shift & 0xff)
                return alpha == 0 ? 0 : min(255, (value * 255 + alpha / 2) / alpha)
            }
            return (channel(16), channel(8), channel(0), alpha)
        }
    }
}

extension CSSColor {
    func setSource(on context: OpaquePointer, alpha extra: Double = 1) {
        cairo_set_source_rgba(context, red, green, blue, alpha * extra)
    }

    func addStop(to pattern: OpaquePointer, at offset: Double) {
        cairo_pattern_add_color_stop_rgba(pattern, offset, red, green, blue, alpha)
    }
}
