import Offload
import Testing
@testable import OffloadImage

@Suite struct LayerTests {
    private func render(_ json: String) throws -> Canvas {
        let spec = try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json)))
        return try CardRenderer.render(spec, pictures: try CardPictures(spec, sources: ImageSources(allowedRoots: ["."])))
    }

    @Test func layersDrawInZOrder() throws {
        let template =
            ##"{"params":{"title":"","backgroundColor":"#000000","layers":[{"type":"shape","shapeType":"rectangle","x":10,"y":10,"width":50,"height":50,"fillColor":"#ff0000","zIndex":RED},{"type":"shape","shapeType":"rectangle","x":30,"y":30,"width":50,"height":50,"fillColor":"#0000ff","zIndex":BLUE}]},"dimensions":{"width":100,"height":100}}"##
        let redOnTop = try render(template.replacing("RED", with: "2").replacing("BLUE", with: "1"))
        #expect(redOnTop.pixel(x: 40, y: 40) == (255, 0, 0, 255))
        let blueOnTop = try render(template.replacing("RED", with: "1").replacing("BLUE", with: "2"))
        #expect(blueOnTop.pixel(x: 40, y: 40) == (0, 0, 255, 255))
        // Same z: the later layer wins.
        let tie = try render(template.replacing("RED", with: "1").replacing("BLUE", with: "1"))
        #expect(tie.pixel(x: 40, y: 40) == (0, 0, 255, 255))
    }

    @Test func negativeLayersGoBeneathTheTitle() throws {
        let template =
            ##"{"params":{"title":"██████","textColor":"#00ff00","backgroundColor":"#000000","padding":0,"titleFontSize":60,"layers":[{"type":"shape","shapeType":"rectangle","x":0,"y":0,"width":300,"height":150,"fillColor":"#ff0000","zIndex":Z}]},"dimensions":{"width":300,"height":150}}"##
        let beneath = try render(template.replacing("Z", with: "-1"))
        let above = try render(template.replacing("Z", with: "1"))
        // The middle of the title's first block glyph: green when the rectangle is beneath, red when above.
        var greenBeneath = 0, greenAbove = 0
        for x in stride(from: 0, to: 300, by: 3) {
            if beneath.pixel(x: x, y: 75).green == 255 { greenBeneath += 1 }
            if above.pixel(x: x, y: 75).green == 255 { greenAbove += 1 }
        }
        #expect(greenBeneath > 10)
        #expect(greenAbove == 0)
    }

    @Test func shapesAndTextLayersDraw() throws {
        let canvas = try render(
            ##"{"params":{"title":"","backgroundColor":"#ffffff","layers":[{"type":"shape","shapeType":"circle","x":0,"y":0,"width":100,"height":100,"fillColor":"#00ff00"},{"type":"shape","shapeType":"line","x":0,"y":150,"x2":200,"y2":150,"strokeColor":"#0000ff","strokeWidth":10},{"type":"text","content":"Hi","x":120,"y":10,"maxWidth":80,"fontSize":40,"color":"#ff0000","fontWeight":"bold"}]},"dimensions":{"width":200,"height":200}}"##
        )
        #expect(canvas.pixel(x: 50, y: 50) == (0, 255, 0, 255))  // inside the circle
        #expect(canvas.pixel(x: 2, y: 2) == (255, 255, 255, 255))  // outside it, at the box's corner
        #expect(canvas.pixel(x: 100, y: 150) == (0, 0, 255, 255))  // on the line
        var red = 0
        for y in 10..<60 { for x in 120..<200 where canvas.pixel(x: x, y: y).red == 255 && canvas.pixel(x: x, y: y).green == 0 { red += 1 } }
        #expect(red > 100)
    }

    @Test func badLayersNameTheirField() throws {
        for (layer, expected) in [
            (##"{"type":"blob"}"##, "payload.params.layers[0].type 'blob'"),
            (##"{"type":"text","content":"x","x":0,"y":0}"##, "payload.params.layers[0].maxWidth is required"),
            (##"{"type":"shape","shapeType":"rectangle","x":0,"y":0,"width":5,"height":5}"##, "needs a fillColor or a strokeColor"),
            (##"{"type":"image","src":"x.png","x":0,"y":0,"width":5,"height":5,"blendMode":"burn"}"##, "blendMode 'burn'"),
            (
                ##"{"type":"shape","shapeType":"circle","x":0,"y":0,"width":5,"height":5,"fillColor":"red","filters":[{"type":"blur"}]}"##,
                "payload.params.layers[0].filters[0]"
            )
        ] {
            do {
                _ = try render(##"{"params":{"title":"t","layers":[LAYER]}}"##.replacing("LAYER", with: layer))
                Issue.record("accepted \(layer)")
            } catch let error as OffloadError {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }
}
