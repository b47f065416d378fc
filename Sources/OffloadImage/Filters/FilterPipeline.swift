#if canImport(Glibc)
import Glibc
#endif

/// Applies filters to a rendered canvas, in order. Colour filters use the CSS Filter Effects
/// matrices in sRGB; blur is a Gaussian (three box passes) of standard deviation `radius`.
enum FilterPipeline {
    static func apply(_ filters: [CanvasFilter], to canvas: Canvas) {
        guard !filters.isEmpty else { return }
        PixelBuffer.modify(canvas) { buffer in
            for filter in filters where !RenderStop.requested { apply(filter, to: buffer) }
        }
    }

    static func apply(_ filter: CanvasFilter, to buffer: PixelBuffer) {
        switch filter {
        case .blur(let radius):
            BoxBlur.apply(buffer.data, width: buffer.width, height: buffer.height, stride: buffer.stride, channels: 4, sigma: radius)
        case .brightness(let value):
            let slope = 1 + value
            buffer.mapColors { r, g, b, _ in (r, g, b) = (r * slope, g * slope, b * slope) }
        case .contrast(let value):
            let slope = 1 + value
            let intercept = 0.5 - 0.5 * slope
            buffer.mapColors { r, g, b, _ in (r, g, b) = (r * slope + intercept, g * slope + intercept, b * slope + intercept) }
        case .saturation(let value):
            let s = max(0, 1 + value)
            matrix(
                buffer,
                [
                    0.213 + 0.787 * s, 0.715 - 0.715 * s, 0.072 - 0.072 * s,
                    0.213 - 0.213 * s, 0.715 + 0.285 * s, 0.072 - 0.072 * s,
                    0.213 - 0.213 * s, 0.715 - 0.715 * s, 0.072 + 0.928 * s
                ])
        case .hueRotate(let degrees):
            let (c, s) = (cos(degrees * .pi / 180), sin(degrees * .pi / 180))
            matrix(
                buffer,
                [
                    0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928,
                    0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283,
                    0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072
                ])
        case .grayscale(let amount):
            let k = 1 - amount
            matrix(
                buffer,
                [
                    0.2126 + 0.7874 * k, 0.7152 - 0.7152 * k, 0.0722 - 0.0722 * k,
                    0.2126 - 0.2126 * k, 0.7152 + 0.2848 * k, 0.0722 - 0.0722 * k,
                    0.2126 - 0.2126 * k, 0.7152 - 0.7152 * k, 0.0722 + 0.9278 * k
                ])
        case .sepia(let amount):
            let k = 1 - amount
            matrix(
                buffer,
                [
                    0.393 + 0.607 * k, 0.769 - 0.769 * k, 0.189 - 0.189 * k,
                    0.349 - 0.349 * k, 0.686 + 0.314 * k, 0.168 - 0.168 * k,
                    0.272 - 0.272 * k, 0.534 - 0.534 * k, 0.131 + 0.869 * k
                ])
        case .invert(let amount):
            buffer.mapColors { r, g, b, _ in
                (r, g, b) = (amount * (1 - r) + (1 - amount) * r, amount * (1 - g) + (1 - amount) * g, amount * (1 - b) + (1 - amount) * b)
            }
        case .opacity(let amount):
            buffer.mapColors { _, _, _, a in a *= amount }
        case .dropShadow(let offsetX, let offsetY, let blurRadius, let color, let spread):
            underlay(buffer, color: color, offsetX: offsetX, offsetY: offsetY, sigma: blurRadius / 2, spread: spread, intensity: 1)
        case .glow(let color, let radius, let intensity):
            underlay(buffer, color: color, offsetX: 0, offsetY: 0, sigma: radius / 2, spread: 0, intensity: intensity)
        case .emboss(let strength, let direction, let height):
            emboss(buffer, strength: strength, direction: direction, height: height)
        case .sharpen(let strength, let radius):
            sharpen(buffer, strength: strength, radius: radius)
        }
    }

    /// A 3×3 colour matrix on straight sRGB components.
    private static func matrix(_ buffer: PixelBuffer, _ m: [Double]) {
        buffer.mapColors { r, g, b, _ in
            (r, g, b) = (m[0] * r + m[1] * g + m[2] * b, m[3] * r + m[4] * g + m[5] * b, m[6] * r + m[7] * g + m[8] * b)
        }
    }

    /// The picture's alpha, grown by `spread`, blurred, tinted and offset, drawn beneath it
    /// (CSS `drop-shadow`; a glow is one without offset).
    private static func underlay(
        _ buffer: PixelBuffer, color: CSSColor, offsetX: Double, offsetY: Double, sigma: Double,
        spread: Double, intensity: Double
    ) {
        let (width, height) = (buffer.width, buffer.height)
        var mask = [UInt8](repeating: 0, count: width * height)
        let (dx, dy) = (Int(offsetX.rounded()), Int(offsetY.rounded()))
        let reach = Int(spread.rounded())
        for y in 0..<height {
            if y & 15 == 0 && RenderStop.requested { return }
            for x in 0..<width {
                let (sx, sy) = (x - dx, y - dy)
                guard sx >= 0, sy >= 0, sx < width, sy < height else { continue }
                mask[y * width + x] = UInt8(buffer.word(sx, sy) >> 24)
            }
        }
        if reach > 0 { dilate(&mask, width: width, height: height, radius: reach) }
        mask.withUnsafeMutableBufferPointer {
            BoxBlur.apply($0.baseAddress!, width: width, height: height, stride: width, channels: 1, sigma: sigma)
        }
        for y in 0..<height {
            if y & 15 == 0 && RenderStop.requested { return }
            for x in 0..<width {
                let shadowAlpha = min(1, Double(mask[y * width + x]) / 255 * color.alpha * intensity)
                guard shadowAlpha > 0 else { continue }
                let word = buffer.word(x, y)
                let sourceAlpha = Double(word >> 24) / 255
                let under = shadowAlpha * (1 - sourceAlpha)
                func mix(_ shift: UInt32, _ component: Double) -> UInt32 {
                    UInt32(min(255, (Double(word >> shift & 0xff) + component * under * 255).rounded()))
                }
                let alpha = UInt32(min(255, ((sourceAlpha + under) * 255).rounded()))
                buffer.setWord(x, y, alpha << 24 | mix(16, color.red) << 16 | mix(8, color.green) << 8 | mix(0, color.blue))
            }
        }
    }

    /// Grows a mask by `radius` pixels (a square maximum filter, separable).
    private static func dilate(_ mask: inout [UInt8], width: Int, height: Int, radius: Int) {
        var pass = mask
        for y in 0..<height {
            if y & 7 == 0 && RenderStop.requested { return }
            for x in 0..<width {
                var peak: UInt8 = 0
                for k in max(0, x - radius)...min(width - 1, x + radius) { peak = max(peak, mask[y * width + k]) }
                pass[y * width + x] = peak
            }
        }
        for y in 0..<height {
            if y & 7 == 0 && RenderStop.requested { return }
            for x in 0..<width {
                var peak: UInt8 = 0
                for k in max(0, y - radius)...min(height - 1, y + radius) { peak = max(peak, pass[k * width + x]) }
                mask[y * width + x] = peak
            }
        }
    }

    /// Relief lit from `direction` degrees (0: from the right, 90: from below, as screen y grows
    /// down): the luminance difference across each pixel, `height` pixels apart, times `strength`.
    private static func emboss(_ buffer: PixelBuffer, strength: Double, direction: Double, height: Double) {
        let source = buffer.copy()
        let radians = direction * .pi / 180
        let (dx, dy) = (Int((cos(radians) * max(height, 1)).rounded()), Int((sin(radians) * max(height, 1)).rounded()))
        func luminance(_ x: Int, _ y: Int) -> Double {
            let (cx, cy) = (min(max(x, 0), buffer.width - 1), min(max(y, 0), buffer.height - 1))
            let word = source.withUnsafeBytes { UnsafeRawPointer($0.baseAddress! + cy * buffer.stride + cx * 4).loadUnaligned(as: UInt32.self) }
            let alpha = Double(word >> 24)
            guard alpha > 0 else { return 0 }
            return (0.2126 * Double(word >> 16 & 0xff) + 0.7152 * Double(word >> 8 & 0xff) + 0.0722 * Double(word & 0xff)) / alpha
        }
        for y in 0..<buffer.height {
            if y & 15 == 0 && RenderStop.requested { return }
            for x in 0..<buffer.width {
                let relief = (luminance(x - dx, y - dy) - luminance(x + dx, y + dy)) * strength * 0.5
                let word = buffer.word(x, y)
                let alpha = Double(word >> 24) / 255
                guard alpha > 0 else { continue }
                let r = Double(word >> 16 & 0xff) / 255 / alpha + relief
                let g = Double(word >> 8 & 0xff) / 255 / alpha + relief
                let b = Double(word & 0xff) / 255 / alpha + relief
                buffer.setWord(x, y, PixelBuffer.pack(r, g, b, alpha))
            }
        }
    }

    /// An unsharp mask: each channel pushed away from its blurred value by `strength`.
    private static func sharpen(_ buffer: PixelBuffer, strength: Double, radius: Double) {
        var blurred = buffer.copy()
        blurred.withUnsafeMutableBufferPointer {
            BoxBlur.apply($0.baseAddress!, width: buffer.width, height: buffer.height, stride: buffer.stride, channels: 4, sigma: radius)
        }
        for y in 0..<buffer.height {
            if y & 15 == 0 && RenderStop.requested { return }
            let row = buffer.data + y * buffer.stride
            for x in 0..<buffer.width {
                let base = y * buffer.stride + x * 4
                let alpha = Double(row[x * 4 + 3])
                for channel in 0..<3 {
                    let value = Double(row[x * 4 + channel])
                    let sharpened = value + strength * (value - Double(blurred[base + channel]))
                    row[x * 4 + channel] = UInt8(min(alpha, max(0, sharpened.rounded())))
                }
            }
        }
    }
}
