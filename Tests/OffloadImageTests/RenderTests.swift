#if canImport(Glibc)
import Glibc
#endif
import Offload
import Testing
@testable import OffloadImage

@Suite struct RenderTests {
    private func spec(_ json: String) throws -> CardSpec {
        try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json)))
    }

    @Test func coloursKeepTheirChannelsThroughRenderAndPNG() throws {
        // Red must stay red (upstream swapped red and blue when copying pixels).
        let spec = try spec(
            ##"{"params":{"title":"Red","backgroundColor":"#ff0000","textColor":"#0000ff"},"dimensions":{"width":320,"height":200}}"##)
        let canvas = try CardRenderer.render(spec)
        #expect(canvas.pixel(x: 2, y: 2) == (255, 0, 0, 255))
        let encoded = try Encoder.encode(canvas, as: .png, quality: 85)
        // Opaque, the card is written without an alpha channel (IHDR's colour type 2, RGB).
        #expect(encoded[25] == 2)
        let png = try RasterDecoder.decode(encoded, field: "test")
        #expect(png.width == 320 && png.height == 200)
        #expect(png.pixel(x: 2, y: 2) == (255, 0, 0, 255))
        // Every pixel survives the PNG round trip exactly.
        for y in stride(from: 0, to: 200, by: 7) {
            for x in stride(from: 0, to: 320, by: 5) {
                let drawn = canvas.pixel(x: x, y: y)
                let read = png.pixel(x: x, y: y)
                #expect(Int(read.red) == drawn.red && Int(read.green) == drawn.green && Int(read.blue) == drawn.blue)
            }
        }
    }

    @Test func aCardThatIsNotOpaqueKeepsItsAlphaThroughPNG() throws {
        let spec = try spec(##"{"params":{"title":"Glass","backgroundColor":"rgba(0,128,255,0.5)"},"dimensions":{"width":200,"height":100}}"##)
        let canvas = try CardRenderer.render(spec)
        let encoded = try Encoder.encode(canvas, as: .png, quality: 85)
        #expect(encoded[25] == 6)
        let png = try RasterDecoder.decode(encoded, field: "test")
        let (drawn, read) = (canvas.pixel(x: 1, y: 1), png.pixel(x: 1, y: 1))
        #expect(drawn.alpha < 255 && drawn.alpha > 0)
        #expect(Int(read.alpha) == drawn.alpha && abs(Int(read.blue) - drawn.blue) <= 1)
    }

    @Test func theTitleIsReallyDrawnAndEmojiAreInColour() throws {
        let spec = try spec(
            ##"{"params":{"title":"Hello 😀","backgroundColor":"#000000","textColor":"#ffffff","titleFontSize":80},"dimensions":{"width":600,"height":300}}"##
        )
        let canvas = try CardRenderer.render(spec)
        var white = 0
        var coloured = 0
        for y in 0..<300 {
            for x in 0..<600 {
                let p = canvas.pixel(x: x, y: y)
                if p.red > 240 && p.green > 240 && p.blue > 240 { white += 1 }
                if p.red > 150 && p.blue < 100 && abs(p.red - p.blue) > 100 { coloured += 1 }
            }
        }
        #expect(white > 2_000, "the title's letters cover pixels")
        #expect(coloured > 500, "the emoji is drawn in colour (yellow), not as a monochrome glyph")
    }

    @Test func jpegEncodesWithAQuality() throws {
        let canvas = try CardRenderer.render(try spec(##"{"params":{"title":"JPEG"},"dimensions":{"width":300,"height":160}}"##))
        let high = try Encoder.encode(canvas, as: .jpeg, quality: 95)
        let low = try Encoder.encode(canvas, as: .jpeg, quality: 10)
        #expect(Array(high.prefix(3)) == [0xFF, 0xD8, 0xFF])
        #expect(low.count < high.count)
    }

    @Test func corruptAndOversizedPNGsAreTypedErrors() throws {
        let canvas = try CardRenderer.render(try spec(##"{"params":{"title":"x"},"dimensions":{"width":64,"height":64}}"##))
        var png = try Encoder.encode(canvas, as: .png, quality: 85)
        #expect(throws: OffloadError.self) { try RasterDecoder.decode(Array(png.prefix(png.count / 2)), field: "logo") }
        png[40] ^= 0xFF
        png[41] ^= 0xFF
        #expect(throws: OffloadError.self) { try RasterDecoder.decode(png, field: "logo") }
        #expect(throws: OffloadError.self) { try RasterDecoder.decode([1, 2, 3], field: "logo") }
        let whole = try Encoder.encode(canvas, as: .png, quality: 85)
        do {
            _ = try RasterDecoder.decode(whole, field: "logo", maxPixels: 1000)
            Issue.record("a 64×64 PNG passed a 1000-pixel limit")
        } catch {
            #expect(error.message.contains("over the limit"))
        }
    }

    @Test func theImageKindWritesItsFileThroughAPool() async throws {
        let folder = "/tmp/offload-image-test-\(getpid())"
        var registry = HandlerRegistry()
        try registry.registerImage(outputDirectory: folder)
        try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            let job = Job(
                id: "card 1", kind: "image", payload: .json(try JSONParser.parse(##"{"params":{"title":"Through the pool"},"outputFormat":"jpeg"}"##))
            )
            let outcome = try await pool.process(job)
            #expect(outcome.status == .completed)
            let output = try outcome.value(as: ImageHandler.Output.self)
            // The id's space is escaped, so that no two ids share a file.
            #expect(output.file == folder + "/card%201.jpg")
            #expect(output.width == 1200 && output.height == 630 && output.format == "jpeg")
            var status = stat()
            let file = try #require(output.file)
            #expect(stat(file, &status) == 0 && Int(status.st_size) == output.bytes)
            let bad = try await pool.process(
                Job(kind: "image", payload: .json(try JSONParser.parse(##"{"params":{"title":"x","textColor":"nope"}}"##))))
            #expect(bad.error?.code == .invalidPayload)
            unlink(file)
        }
    }
}
