#if canImport(Glibc)
import Glibc
#endif
import Offload
import Testing
@testable import OffloadImage

/// Fixed cards rendered and compared with the reference PNGs in `Goldens/`: each channel within
/// `tolerance`, at most `allowedShare` of the pixels beyond it. On a mismatch the actual image
/// and a diff (differing pixels in red) are written to `.build/golden-failures/`. Run with
/// `OFFLOAD_REGENERATE_GOLDENS=1` to rewrite the references after a deliberate change (and look
/// at them before committing).
@Suite struct GoldenTests {
    static let tolerance = 12
    static let allowedShare = 0.004

    static let cards: [(name: String, payload: String)] = [
        (
            "basic",
            ##"{"params":{"title":"Offload renders cards 🚀","description":"Inter from fonts-inter, emoji from Noto Color Emoji ✨"},"dimensions":{"width":600,"height":315}}"##
        ),
        (
            "gradient-shadow",
            ##"{"params":{"title":"Centred, with a shadow","description":"A linear backdrop at 135°","textAlign":"center","textShadow":{"color":"rgba(0,0,0,0.55)","blur":10,"offsetX":0,"offsetY":4}},"background":{"type":"linear","colors":["#4f46e5","#db2777"],"angle":135},"dimensions":{"width":600,"height":315}}"##
        ),
        (
            "text-effects",
            ##"{"params":{"title":"Outline and gradient text","backgroundColor":"#fef3c7","textAlign":"right","textOutline":{"color":"#1e293b","width":2},"textGradient":{"gradientType":"linear","colors":["#f59e0b","#be123c"],"startX":0,"startY":0,"endX":1,"endY":1}},"background":{"type":"radial","colors":["#fffbeb","#fde68a"]},"dimensions":{"width":600,"height":315}}"##
        ),
        (
            "filters",
            ##"{"params":{"title":"Sepia, contrast and blur","description":"filters apply in order"},"background":{"type":"linear","colors":["#0ea5e9","#22c55e"],"angle":90},"filters":[{"type":"sepia","amount":0.7},{"type":"contrast","value":0.2},{"type":"blur","radius":1.5}],"dimensions":{"width":600,"height":315}}"##
        )
    ]

    static var folder: String {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Goldens"
    }

    @Test(arguments: cards.map(\.name))
    func cardMatchesItsReference(_ name: String) throws {
        let payload = Self.cards.first { $0.name == name }!.payload
        let spec = try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(payload)))
        let canvas = try CardRenderer.render(spec)
        FilterPipeline.apply(spec.filters, to: canvas)
        let actual = try Encoder.encode(canvas, as: .png, quality: 85)
        let path = "\(Self.folder)/\(name).png"
        if getenv("OFFLOAD_REGENERATE_GOLDENS") != nil {
            try OutputFile.write(actual, to: Self.folder, name: "\(name).png")
            return
        }
        let reference = try RasterDecoder.decode(try readFile(path), field: path)
        let rendered = try RasterDecoder.decode(actual, field: name)
        #expect(reference.width == rendered.width && reference.height == rendered.height)
        var differing = 0
        var diff = [UInt8](repeating: 0, count: rendered.rgba.count)
        for index in stride(from: 0, to: rendered.rgba.count, by: 4) {
            let far = (0..<4).contains { abs(Int(rendered.rgba[index + $0]) - Int(reference.rgba[index + $0])) > Self.tolerance }
            if far { differing += 1 }
            diff[index] = far ? 255 : rendered.rgba[index] / 4
            diff[index + 1] = far ? 0 : rendered.rgba[index + 1] / 4
            diff[index + 2] = far ? 0 : rendered.rgba[index + 2] / 4
            diff[index + 3] = 255
        }
        let share = Double(differing) / Double(rendered.width * rendered.height)
        if share > Self.allowedShare {
            let failures = String(Self.folder[..<Self.folder.firstRange(of: "/Tests/")!.lowerBound]) + "/.build/golden-failures"
            try OutputFile.write(actual, to: failures, name: "\(name)-actual.png")
            try OutputFile.write(try Self.png(rgba: diff, width: rendered.width, height: rendered.height), to: failures, name: "\(name)-diff.png")
            Issue.record("\(name): \(differing) pixels (\(share * 100)%) differ by more than \(Self.tolerance); see \(failures)/\(name)-diff.png")
        }
    }

    /// Straight RGBA rows as a PNG (through a canvas, which stores premultiplied pixels).
    static func png(rgba: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        let canvas = try Canvas(width: width, height: height)
        PixelBuffer.modify(canvas) { buffer in
            for y in 0..<height {
                for x in 0..<width {
                    let i = (y * width + x) * 4
                    buffer.setWord(
                        x, y, PixelBuffer.pack(Double(rgba[i]) / 255, Double(rgba[i + 1]) / 255, Double(rgba[i + 2]) / 255, Double(rgba[i + 3]) / 255)
                    )
                }
            }
        }
        return try Encoder.encode(canvas, as: .png, quality: 85)
    }

    private func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw OffloadError(.invalidPayload, "no reference image at \(path); run with OFFLOAD_REGENERATE_GOLDENS=1") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }
}
