#if canImport(Glibc)
import Glibc
#endif
import Offload
import Testing
@testable import OffloadImage

@Suite struct ImageSourceTests {
    let folder = "/tmp/offload-sources-\(getpid())"

    private func write(_ bytes: [UInt8], _ name: String) -> String {
        mkdir(folder, 0o755)
        let path = "\(folder)/\(name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    private func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as OffloadError {
            #expect(error.code == .invalidPayload)
            return error.message
        } catch {
            return "\(error)"
        }
    }

    private func smallPNG() throws -> [UInt8] {
        let canvas = try Canvas(width: 8, height: 8)
        return try Encoder.encode(canvas, as: .png, quality: 85)
    }

    @Test func dataURLsAndFilesUnderTheRootsLoad() throws {
        let png = try smallPNG()
        let path = write(png, "logo.png")
        let sources = ImageSources(allowedRoots: [folder])
        #expect(try sources.load(path, field: "logo") == png)
        #expect(try sources.load("data:text/plain;base64,SGVsbG8sIFdvcmxkIQ==", field: "x") == Array("Hello, World!".utf8))
        #expect(try sources.load("data:image/svg+xml,%3Csvg%3E", field: "x") == Array("<svg>".utf8))
    }

    @Test func escapesNetworkAndBadDataAreRefusedNamingTheField() throws {
        let png = try smallPNG()
        _ = write(png, "inside.png")
        symlink("/etc/hostname", "\(folder)/link-out")
        let sources = ImageSources(allowedRoots: [folder])
        // Outside, through `..`, through a link, or missing: one refusal, which names the folder as given.
        let refusal = "is not a file under the allowed folders (allowed: '\(folder)')"
        #expect(
            message { _ = try sources.load("/etc/hostname", field: "payload.params.logoUrl") } == "payload.params.logoUrl: '/etc/hostname' \(refusal)"
        )
        #expect(message { _ = try sources.load("/etc/no-such-file", field: "f") } == "f: '/etc/no-such-file' \(refusal)")
        #expect(message { _ = try sources.load("\(folder)/../../etc/hostname", field: "f") }?.contains(refusal) == true)
        #expect(message { _ = try sources.load("\(folder)/link-out", field: "f") }?.contains(refusal) == true)
        #expect(message { _ = try sources.load("https://example.com/a.png", field: "f") }?.contains("network") == true)
        #expect(message { _ = try sources.load("data:image/png;base64,@@@", field: "f") }?.contains("base64") == true)
        #expect(message { _ = try sources.load("\(folder)/missing.png", field: "f") }?.contains(refusal) == true)
    }

    @Test func corruptImagesAndBombsAreTypedErrors() throws {
        // A PNG header that claims 100000×100000 pixels: refused before anything is allocated.
        var bomb: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        bomb += [0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0, 8, 6, 0, 0, 0]
        bomb += [0x7C, 0x2A, 0x0B, 0x12]  // the CRC is not checked before the size
        #expect(
            message { _ = try Picture(bytes: bomb, field: "payload.params.logoUrl") }.map { $0.contains("over the limit") || $0.contains("libpng") }
                == true)
        #expect(message { _ = try Picture(bytes: [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2, 3], field: "logo") }?.contains("logo") == true)
        #expect(message { _ = try Picture(bytes: Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 garbage".utf8), field: "logo") }?.contains("WebP") == true)
        #expect(message { _ = try Picture(bytes: Array("<svg><unclosed".utf8), field: "logo") }?.contains("SVG") == true)
        #expect(message { _ = try Picture(bytes: Array("hello".utf8), field: "logo") }?.contains("not a PNG") == true)
    }

    @Test func aLogoIsDrawnWhereItIsPlaced() throws {
        let svg = ##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#00ff00"/></svg>"##
        let json =
            ##"{"params":{"title":"x","backgroundColor":"#000000","logoUrl":"data:image/svg+xml,LOGO","logoPosition":"bottomRight","padding":20},"dimensions":{"width":400,"height":200}}"##
            .replacing("LOGO", with: svg.replacing("#", with: "%23").replacing("\"", with: "%22"))
        let spec = try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json)))
        let canvas = try CardRenderer.render(spec, pictures: try CardPictures(spec, sources: ImageSources(allowedRoots: ["."])))
        // The logo is 28 px (14 % of 200) square, 16 px (8 % of 200) from the bottom-right corner.
        #expect(canvas.pixel(x: 400 - 16 - 14, y: 200 - 16 - 14) == (0, 255, 0, 255))
        #expect(canvas.pixel(x: 20, y: 20) == (0, 0, 0, 255))
    }
}
