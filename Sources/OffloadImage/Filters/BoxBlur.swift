/// Three box blurs, horizontal then vertical, approximating a Gaussian of standard deviation
/// `sigma`, over 8-bit channels: `channels` bytes a pixel (1 for an alpha mask, 4 for ARGB32).
enum BoxBlur {
    static func apply(_ data: UnsafeMutablePointer<UInt8>, width: Int, height: Int, stride: Int, channels: Int, sigma: Double) {
        guard sigma > 0, width > 0, height > 0 else { return }
        // Three boxes of width w approximate a Gaussian when w = sqrt(12σ²/3 + 1).
        let radius = max(1, Int(((12 * sigma * sigma / 3 + 1).squareRoot() - 1) / 2 + 0.5))
        var line = [Int](repeating: 0, count: max(width, height))
        var output = [Int](repeating: 0, count: max(width, height))
        for _ in 0..<3 {
            for channel in 0..<channels {
                for y in 0..<height {
                    if y & 15 == 0 && RenderStop.requested { return }
                    let row = data + y * stride + channel
                    for x in 0..<width { line[x] = Int(row[x * channels]) }
                    blurLine(line, into: &output, count: width, radius: radius)
                    for x in 0..<width { row[x * channels] = UInt8(output[x]) }
                }
                for x in 0..<width {
                    if x & 15 == 0 && RenderStop.requested { return }
                    let column = data + x * channels + channel
                    for y in 0..<height { line[y] = Int(column[y * stride]) }
                    blurLine(line, into: &output, count: height, radius: radius)
                    for y in 0..<height { column[y * stride] = UInt8(output[y]) }
                }
            }
        }
    }

    /// A running-sum box of `2 × radius + 1`, edges extended.
    private static func blurLine(_ source: [Int], into output: inout [Int], count: Int, radius: Int) {
        let window = 2 * radius + 1
        var sum = 0
        for offset in -radius...radius { sum += source[min(max(offset, 0), count - 1)] }
        for index in 0..<count {
            output[index] = (sum + window / 2) / window
            sum += source[min(index + radius + 1, count - 1)] - source[max(index - radius, 0)]
        }
    }
}
