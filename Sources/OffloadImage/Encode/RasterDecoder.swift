import CImageCodecs
public import Offload

/// Decodes PNG, JPEG and WebP data to 8-bit RGBA through libpng, libjpeg-turbo and libwebp,
/// with their `longjmp` errors turned into typed errors and a pixel budget checked before any
/// pixel is decoded: a corrupt image or a decompression bomb fails the job, never the worker.
public enum RasterDecoder {
    public struct Image: Sendable {
        public var width: Int
        public var height: Int
        /// Rows of RGBA bytes, un-premultiplied.
        public var rgba: [UInt8]

        public func pixel(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8) {
            let index = (y * width + x) * 4
            return (rgba[index], rgba[index + 1], rgba[index + 2], rgba[index + 3])
        }
    }

    public enum Format: String, Sendable {
        case png, jpeg, webp
    }

    /// The format the data's first bytes announce, if it is one of these.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) { return .webp }
        return nil
    }

    /// - Parameters:
    ///   - field: the payload field the data came from, for the error.
    ///   - maxPixels: a larger image is refused before it is decoded.
    /// - Throws: ``OffloadError/Code/invalidPayload`` for data that is not a valid image of a known format, or too large.
    public static func decode(_ bytes: [UInt8], field: String, maxPixels: Int = CardSpec.maxPixels) throws(OffloadError) -> Image {
        var budget = PixelBudget(limit: .max)
        return try withDecoded(bytes, field: field, maxPixels: maxPixels, budget: &budget) { width, height, rgba in
            Image(width: width, height: height, rgba: Array(UnsafeBufferPointer(start: rgba, count: width * height * 4)))
        }
    }

    /// Decodes `bytes` and lends `body` the RGBA rows (width, height, pixels), without a copy.
    /// - Parameters:
    ///   - maxPixels: the most one picture may have (larger: ``OffloadError/Code/invalidPayload``).
    ///   - budget: what the job's pictures may decode to together (past it:
    ///     ``OffloadError/Code/resourceLimitExceeded``); the picture is charged to it.
    static func withDecoded<T>(
        _ bytes: [UInt8], field: String, maxPixels: Int, budget: inout PixelBudget,
        _ body: (Int, Int, UnsafePointer<UInt8>) throws(OffloadError) -> T
    ) throws(OffloadError) -> T {
        guard let format = format(of: bytes) else {
            throw OffloadError(.invalidPayload, "\(field): not a PNG, JPEG or WebP image")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let allowed = min(maxPixels, budget.remaining)
        let status = bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .png: offload_png_decode(buffer.baseAddress, buffer.count, allowed, &output, &width, &height, &message, message.count)
            case .jpeg: offload_jpeg_decode(buffer.baseAddress, buffer.count, allowed, &output, &width, &height, &message, message.count)
            case .webp: offload_webp_decode(buffer.baseAddress, buffer.count, allowed, &output, &width, &height, &message, message.count)
            }
        }
        let pixels = Int(width) * Int(height)
        if status == 2, pixels > 0, pixels <= maxPixels {
            throw budget.exceeded(by: pixels, field: field)
        }
        guard status == 0, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw OffloadError(.invalidPayload, "\(field): \(text)")
        }
        defer { offload_codec_free(output) }
        budget.used += pixels
        return try body(Int(width), Int(height), output)
    }
}

/// The pixels a job's pictures may decode to together (``ResourceLimits/maxDecodedPixels``).
struct PixelBudget {
    let limit: Int
    var used = 0

    var remaining: Int { max(0, limit - used) }

    func exceeded(by pixels: Int, field: String) -> OffloadError {
        .overBudget(
            "decodedPixels", limit: limit,
            "\(field): a picture of \(OffloadError.grouped(pixels)) pixels would take the job's pictures to \(OffloadError.grouped(used + pixels)) decoded pixels"
        )
    }
}
