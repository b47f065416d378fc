import CPangoCairo

/// The pixels of a canvas for in-place filtering: premultiplied ARGB32 words, row by row.
struct PixelBuffer {
    let data: UnsafeMutablePointer<UInt8>
    let width: Int
    let height: Int
    let stride: Int

    /// Runs `body` on the canvas's pixels, then tells cairo they changed.
    static func modify(_ canvas: Canvas, _ body: (PixelBuffer) -> Void) {
        cairo_surface_flush(canvas.surface)
        let buffer = PixelBuffer(
            data: cairo_image_surface_get_data(canvas.surface)!, width: canvas.width, height: canvas.height,
            stride: Int(cairo_image_surface_get_stride(canvas.surface)))
        body(buffer)
        cairo_surface_mark_dirty(canvas.surface)
    }

    func word(_ x: Int, _ y: Int) -> UInt32 {
        UnsafeRawPointer(data + y * stride + x * 4).loadUnaligned(as: UInt32.self)
    }

    func setWord(_ x: Int, _ y: Int, _ value: UInt32) {
        UnsafeMutableRawPointer(data + y * stride + x * 4).storeBytes(of: value, as: UInt32.self)
    }

    /// Calls `body` with each pixel's straight (un-premultiplied) colour, 0…1, and stores what it returns.
    func mapColors(_ body: (inout Double, inout Double, inout Double, inout Double) -> Void) {
        for y in 0..<height {
            if y & 15 == 0 && RenderStop.requested { return }
            for x in 0..<width {
                let word = word(x, y)
                let alpha = Double(word >> 24) / 255
                guard alpha > 0 else { continue }
                var r = Double(word >> 16 & 0xff) / 255 / alpha
                var g = Double(word >> 8 & 0xff) / 255 / alpha
                var b = Double(word & 0xff) / 255 / alpha
                var a = alpha
                body(&r, &g, &b, &a)
                setWord(x, y, Self.pack(r, g, b, a))
            }
        }
    }

    /// Premultiplies and packs a straight colour, clamping each component to 0…1.
    static func pack(_ r: Double, _ g: Double, _ b: Double, _ a: Double) -> UInt32 {
        let alpha = min(max(a, 0), 1)
        func byte(_ value: Double) -> UInt32 { UInt32((min(max(value, 0), 1) * alpha * 255).rounded()) }
        return UInt32((alpha * 255).rounded()) << 24 | byte(r) << 16 | byte(g) << 8 | byte(b)
    }

    /// A copy of the pixels.
    func copy() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: height * stride)
        bytes.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: data, count: height * stride) }
        return bytes
    }
}
