import CImageCodecs
import Offload

/// Encodes a rendered canvas: PNG through libpng (RGB when every pixel is opaque, zlib level 3,
/// SUB filter: about half the time of cairo's own writer), JPEG through libjpeg-turbo, WebP
/// through libwebp (method 2). Library errors come back as typed errors.
enum Encoder {
    static func encode(_ canvas: Canvas, as format: CardSpec.Format, quality: Int) throws(OffloadError) -> [UInt8] {
        guard format != .gif && format != .apng else {
            throw OffloadError(.handlerFailed, "\(format.rawValue) frames are encoded by AnimationEncoder")
        }
        RenderStop.installed
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = canvas.withPixels { pixels, stride -> Int32 in
            switch format {
            case .png:
                offload_png_encode(pixels, Int32(canvas.width), Int32(canvas.height), Int32(stride), 3, &output, &size, &message, message.count)
            case .jpeg:
                offload_jpeg_encode(
                    pixels, Int32(canvas.width), Int32(canvas.height), Int32(stride), Int32(quality), &output, &size, &message, message.count)
            case .webp:
                offload_webp_encode(
                    pixels, Int32(canvas.width), Int32(canvas.height), Int32(stride), Int32(quality), &output, &size, &message, message.count)
            case .gif, .apng:
                -1
            }
        }
        if status == 2 { throw RenderStop.stopped }
        guard status == 0, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw OffloadError(.handlerFailed, "encoding the \(format.rawValue) failed: \(text)")
        }
        defer { offload_codec_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
