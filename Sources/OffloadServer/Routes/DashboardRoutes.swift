import Hummingbird
import NIOCore
import Offload

extension OffloadService {
    /// The dashboard's three files, built into the binary (no folder beside it, no CDN). They
    /// hold no data: the page asks the API, with the token, for everything it shows.
    func addDashboardRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let files: [(path: String, bytes: [UInt8], type: String)] = [
            ("/", PackageResources.index_html, "text/html; charset=utf-8"),
            ("/app.js", PackageResources.app_js, "text/javascript; charset=utf-8"),
            ("/style.css", PackageResources.style_css, "text/css; charset=utf-8")
        ]
        for file in files {
            let etag = String(SHA256.hex(file.bytes).prefix(32))
            let body = ByteBuffer(bytes: file.bytes)
            router.get(RouterPath(file.path)) { request, _ in
                // Mounted under a prefix (`/admin`), the page is at `/admin/`: its files and the
                // API are asked for relative to it.
                if file.path == "/", !request.uri.path.hasSuffix("/") {
                    let query = request.uri.query.map { "?" + $0 } ?? ""
                    return Response(status: .permanentRedirect, headers: [.location: request.uri.path + "/" + query])
                }
                return CachedResponse.make(body, contentType: file.type, etag: etag, cacheControl: "no-cache", request: request)
            }
        }
    }
}
