#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Offload
import OffloadImage

// `InlineCardServer PORT`: GET /og.png?title=…[&description=…] draws the card of `offload serve`'s
// `template=midnight` right in the request handler, on the server's event loop; GET /healthz
// answers at once. What a Swift server without Offload does.
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8090 : 8090
let router = Router()
router.get("/healthz") { _, _ in "ok" }
router.get("/og.png") { request, _ -> Response in
    var params = CanvasOgParams(
        title: request.uri.queryParameters.get("title") ?? "Untitled",
        description: request.uri.queryParameters.get("description"))
    params.textColor = "#f8fafc"
    let payload = ImagePayload(
        params: params, outputFormat: "png", dimensions: .init(width: 1200, height: 630),
        background: ["type": "linear", "colors": ["#0f172a", "#1e3a8a"], "angle": 135])
    let image = try CardImage.make(try CardSpec(payload))
    return Response(status: .ok, headers: [.contentType: "image/png"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: image.bytes)))
}
let app = Application(
    router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { channel in
        print("listening on http://127.0.0.1:\(channel.localAddress?.port ?? port) ")
        fflush(nil)
    })
try await app.runService()
