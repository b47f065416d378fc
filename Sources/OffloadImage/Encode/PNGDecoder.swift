import CImageCodecs
public import Offload

/// Decodes PNG data to 8-bit RGBA through libpng, with its `longjmp` errors turned into typed
/// errors: a corrupt image fails the job, never the worker.
public enum PNGDecoder {
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

    /// - Parameters:
    ///   - field: the payload field the data came from, for the error.
    ///   - maxPixels: a larger image is refused before it is decoded (a decompression bomb).
    /// - Throws: ``OffloadError/Code/invalidPayload`` for data that is not a valid PNG or is too large.
    public static func decode(_ bytes: [UInt8], field: String, maxPixels: Int = CardSpec.maxPixels) throws(OffloadError) -> Image {
        var output: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { buffer in
            offload_png_decode(buffer.baseAddress, buffer.count, maxPixels, &output, &width, &height, &message, message.count)
        }
        guard status == 0, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw OffloadError(.invalidPayload, "\(field): \(text)")
        }
        defer { offload_codec_free(output) }
        let count = Int(width) * Int(height) * 4
        return Image(width: Int(width), height: Int(height), rgba: Array(UnsafeBufferPointer(start: output, count: count)))
    }
}
