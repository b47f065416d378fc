import Offload

/// The pictures and fonts a card names, read and decoded before drawing starts.
struct CardPictures {
    var logo: Picture?
    var background: Picture?
    /// The pictures of image layers, by layer index.
    var layers: [Int: Picture] = [:]

    init() {}

    init(_ spec: CardSpec, sources: ImageSources) throws(OffloadError) {
        for font in spec.fontURLs {
            let field = "payload.params.fontUrls['\(font.family)']"
            try FontRegistry.register(try sources.load(font.url, field: field), family: font.family, field: field)
        }
        FontRegistry.refreshThisThread()
        if let url = spec.logoURL {
            logo = try Picture(bytes: try sources.load(url, field: "payload.params.logoUrl"), field: "payload.params.logoUrl")
        }
        if let url = spec.backgroundImageURL {
            background = try Picture(bytes: try sources.load(url, field: "payload.params.backgroundImageUrl"),
                                     field: "payload.params.backgroundImageUrl")
        }
        for (index, layer) in spec.layers.enumerated() {
            guard case .image(let image) = layer.content else { continue }
            let field = "payload.params.layers[\(index)].src"
            layers[index] = try Picture(bytes: try sources.load(image.source, field: field), field: field)
        }
    }
}
