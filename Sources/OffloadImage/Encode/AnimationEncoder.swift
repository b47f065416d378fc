import CImageCodecs
import Offload

/// Encodes frames as an animated GIF (one median-cut palette, ordered dithering, changed
/// rectangles only, through giflib), an animated WebP (libwebp's animation encoder) or an APNG (each frame through the
/// PNG encoder, its image data re-wrapped in APNG's frame chunks).
enum AnimationEncoder {
    static func encode(_ frames: [Canvas], as format: CardSpec.Format, frameRate: Double, loops: Int, quality: Int) throws(OffloadError) -> [UInt8] {
        let delay = 1 / frameRate
        switch format {
        case .apng:
            return try APNG.assemble(
                frames.map { frame throws(OffloadError) in
                    try RenderStop.check()
                    return try Encoder.encode(frame, as: .png, quality: quality)
                },
                delayMilliseconds: Int((delay * 1000).rounded()), loops: loops)
        case .gif, .webp:
            let (width, height) = (Int32(frames[0].width), Int32(frames[0].height))
            var output: UnsafeMutablePointer<UInt8>?
            var size = 0
            var message = [CChar](repeating: 0, count: 256)
            RenderStop.installed
            let status = withFramePointers(frames) { pointers, stride in
                if format == .gif {
                    return offload_gif_encode(
                        pointers, Int32(frames.count), width, height, Int32(stride),
                        Int32(max(2, (delay * 100).rounded())), Int32(loops), &output, &size, &message, message.count)
                }
                return offload_webp_animation_encode(
                    pointers, Int32(frames.count), width, height, Int32(stride),
                    Int32((delay * 1000).rounded()), Int32(loops), Int32(quality), &output, &size,
                    &message, message.count)
            }
            if status == 2 { throw RenderStop.stopped }
            guard status == 0, let output else {
                let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                throw OffloadError(.handlerFailed, "encoding the animated \(format.rawValue) failed: \(text)")
            }
            defer { offload_codec_free(output) }
            return Array(UnsafeBufferPointer(start: output, count: size))
        case .png, .jpeg:
            throw OffloadError(.invalidPayload, "payload.outputFormat \(format.rawValue) cannot hold an animation (use gif, webp or apng)")
        }
    }

    private static func withFramePointers<T>(_ frames: [Canvas], _ body: (UnsafePointer<UnsafePointer<UInt8>?>, Int) -> T) -> T {
        var pointers: [UnsafePointer<UInt8>?] = []
        var stride = 0
        for frame in frames {
            frame.withPixels { pixels, rowBytes in
                pointers.append(pixels)
                stride = rowBytes
            }
        }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!, stride) }
    }
}

/// Animated PNG: the first frame's chunks, an `acTL`, and per frame an `fcTL` with its image data
/// (`IDAT` for the first, `fdAT` after), each chunk with its CRC.
enum APNG {
    static func assemble(_ pngs: [[UInt8]], delayMilliseconds: Int, loops: Int) throws(OffloadError) -> [UInt8] {
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var sequence: UInt32 = 0
        for (index, png) in pngs.enumerated() {
            let chunks = try chunks(of: png)
            guard let header = chunks.first(where: { $0.type == "IHDR" }) else {
                throw OffloadError(.handlerFailed, "APNG: frame \(index) has no IHDR")
            }
            if index == 0 {
                append("IHDR", header.data, to: &out)
                append("acTL", be32(UInt32(pngs.count)) + be32(UInt32(loops)), to: &out)
            }
            let control =
                be32(sequence) + Array(header.data[0..<8]) + be32(0) + be32(0)
                + be16(UInt16(clamping: delayMilliseconds)) + be16(1000) + [0, 0]
            append("fcTL", control, to: &out)
            sequence += 1
            for chunk in chunks where chunk.type == "IDAT" {
                if index == 0 {
                    append("IDAT", chunk.data, to: &out)
                } else {
                    append("fdAT", be32(sequence) + chunk.data, to: &out)
                    sequence += 1
                }
            }
        }
        append("IEND", [], to: &out)
        return out
    }

    private static func chunks(of png: [UInt8]) throws(OffloadError) -> [(type: String, data: [UInt8])] {
        var chunks: [(String, [UInt8])] = []
        var offset = 8
        while offset + 12 <= png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            let type = String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self)
            guard offset + 12 + length <= png.count else { throw OffloadError(.handlerFailed, "APNG: a frame's PNG is cut short") }
            chunks.append((type, Array(png[(offset + 8)..<(offset + 8 + length)])))
            offset += 12 + length
        }
        return chunks
    }

    private static func append(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        out += be32(UInt32(data.count)) + typeBytes + data + be32(CRC32.checksum(typeBytes + data))
    }

    private static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
    private static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
}

/// CRC-32 (ISO 3309, as PNG chunks use).
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
