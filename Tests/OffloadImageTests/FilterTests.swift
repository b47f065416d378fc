import Offload
import Testing
@testable import OffloadImage

@Suite struct FilterTests {
    /// A 40×20 card of one colour with `filter` applied; the colour of its top-left pixel.
    private func filtered(_ background: String, _ filter: String) throws -> (red: Int, green: Int, blue: Int, alpha: Int) {
        let json =
            ##"{"params":{"title":"x","backgroundColor":"BG","textColor":"transparent"},"dimensions":{"width":40,"height":20},"filters":[FILTER]}"##
            .replacing("BG", with: background).replacing("FILTER", with: filter)
        let spec = try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json)))
        let canvas = try CardRenderer.render(spec)
        FilterPipeline.apply(spec.filters, to: canvas)
        return canvas.pixel(x: 1, y: 1)
    }

    @Test func colourFiltersGiveTheCSSResults() throws {
        // The values a browser's CSS filter functions give for these colours (sRGB matrices).
        #expect(try filtered("#ff0000", ##"{"type":"grayscale","amount":1}"##) == (54, 54, 54, 255))
        #expect(try filtered("#ff0000", ##"{"type":"invert","amount":1}"##) == (0, 255, 255, 255))
        #expect(try filtered("#ff0000", ##"{"type":"hueRotate","degrees":180}"##) == (0, 109, 109, 255))
        #expect(try filtered("#808080", ##"{"type":"brightness","value":0.5}"##) == (192, 192, 192, 255))
        #expect(try filtered("#808080", ##"{"type":"contrast","value":1}"##) == (129, 129, 129, 255))
        #expect(try filtered("#ff0000", ##"{"type":"saturation","value":-1}"##) == (54, 54, 54, 255))
        #expect(try filtered("#ffffff", ##"{"type":"sepia","amount":1}"##) == (255, 255, 239, 255))
        let faded = try filtered("#ff0000", ##"{"type":"opacity","amount":0.5}"##)
        #expect(faded.alpha == 128 && faded.red == 255 && faded.green == 0)
    }

    @Test func filtersApplyInOrder() throws {
        // invert then grayscale ≠ grayscale then invert for a coloured pixel.
        let a = try filtered("#ff8000", ##"{"type":"invert","amount":1},{"type":"grayscale","amount":1}"##)
        let b = try filtered("#ff8000", ##"{"type":"grayscale","amount":1},{"type":"invert","amount":1}"##)
        #expect(a.red == a.green && b.red == b.green)
        #expect(abs(a.red - b.red) <= 1)
        // brightness(1.5) then invert: 1 − 1.5·x; invert then brightness(1.5): 1.5·(1 − x).
        let c = try filtered("#406080", ##"{"type":"brightness","value":0.5},{"type":"invert","amount":1}"##)
        let d = try filtered("#406080", ##"{"type":"invert","amount":1},{"type":"brightness","value":0.5}"##)
        #expect(c == (159, 111, 63, 255))
        #expect(d == (255, 239, 191, 255))
    }

    @Test func badFiltersNameTheirField() throws {
        let cases: [(String, String)] = [
            (##"{"type":"blurr","radius":2}"##, "payload.filters[0].type 'blurr' is not a filter"),
            (##"{"type":"Blur","radius":2}"##, "did you mean 'blur'?"),
            (##"{"type":"grayscale","amount":2}"##, "payload.filters[0].amount must be between 0.0 and 1.0"),
            (##"{"type":"blur","radius":2,"radios":3}"##, "radios"),
            (##"{"type":"dropShadow","offsetX":1,"offsetY":1,"blurRadius":2,"color":"nope"}"##, "payload.filters[0].color"),
            (##"{"radius":2}"##, "payload.filters[0].type")
        ]
        for (filter, expected) in cases {
            do {
                _ = try filtered("#000000", filter)
                Issue.record("\(filter) was accepted")
            } catch let error as OffloadError {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }

    @Test func blurSharpenEmbossAndShadowsChangePixelsWithoutBreakingTheCard() throws {
        for filter in [
            ##"{"type":"blur","radius":3}"##, ##"{"type":"sharpen","strength":1.5,"radius":1}"##,
            ##"{"type":"emboss","strength":2,"direction":135,"height":1}"##,
            ##"{"type":"dropShadow","offsetX":4,"offsetY":4,"blurRadius":6,"color":"rgba(0,0,0,0.5)","spread":2}"##,
            ##"{"type":"glow","color":"#ffffff","radius":8,"intensity":1}"##
        ] {
            let pixel = try filtered("#336699", filter)
            #expect(pixel.alpha == 255, "\(filter)")
        }
        // A uniform card stays uniform under blur.
        #expect(try filtered("#336699", ##"{"type":"blur","radius":3}"##) == (0x33, 0x66, 0x99, 255))
    }
}
