import Offload
import Testing
@testable import OffloadImage

@Suite struct FontTests {
    static var fonts: String {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fonts"
    }

    private func render(family: String, fontURL: String?) throws -> [UInt8] {
        let fonts = fontURL.map { ##","fontUrls":{"Offload Test Sans":"\##($0)"}"## } ?? ""
        let json =
            ##"{"params":{"title":"Hamburgefonstiv 0123","fontFamily":"FAMILY","backgroundColor":"#000000","padding":10,"titleFontSize":40FONTS},"dimensions":{"width":600,"height":100}}"##
            .replacing("FAMILY", with: family).replacing("FONTS", with: fonts)
        let spec = try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json)))
        let canvas = try CardRenderer.render(spec, pictures: try CardPictures(spec, sources: ImageSources(allowedRoots: [Self.fonts])))
        return try Encoder.encode(canvas, as: .png, quality: 85)
    }

    @Test func aFontFromFontUrlsIsUsedForItsFamily() throws {
        // Unknown to fontconfig at first, the family falls back to another font.
        let fallback = try RasterDecoder.decode(try render(family: "Offload Test Sans", fontURL: nil), field: "fallback")
        let inter = try RasterDecoder.decode(try render(family: "Inter", fontURL: nil), field: "inter")
        let registered = try RasterDecoder.decode(
            try render(family: "Offload Test Sans", fontURL: "\(Self.fonts)/OffloadTestSans.otf"), field: "registered")
        func differing(_ a: RasterDecoder.Image, _ b: RasterDecoder.Image) -> Int {
            stride(from: 0, to: a.rgba.count, by: 4).filter { abs(Int(a.rgba[$0]) - Int(b.rgba[$0])) > 32 }.count
        }
        // The test font is Inter Bold renamed (without kerning): drawn, it is close to Inter
        // Bold and far from the fallback.
        let nearInter = differing(registered, inter)
        let nearFallback = differing(registered, fallback)
        #expect(nearFallback > 0)
        #expect(nearInter * 3 < nearFallback, "\(nearInter) pixels differ from Inter Bold, \(nearFallback) from the fallback")
    }

    @Test func aFontOfAnotherFamilyIsRefused() throws {
        do {
            _ = try render(family: "Inter", fontURL: "\(Self.fonts)/README.md")
            Issue.record("a text file was taken for a font")
        } catch let error as OffloadError {
            #expect(error.message.contains("not a font file"))
        }
    }
}
