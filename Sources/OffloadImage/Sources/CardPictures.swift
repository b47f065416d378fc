import Offload

/// The pictures and fonts a card names, read and decoded before drawing starts.
struct CardPictures {
    var logo: Picture?
    var background: Picture?
    /// The pictures of image layers, by layer index.
    var layers: [Int: Picture] = [:]

    init() {}

    /// Reads and decodes the pictures `spec` names, each distinct reference once (150 layers
    /// showing one logo decode it once), within the job's ``ResourceLimits``: at most
    /// `maxLayers` layers and `maxDecodedPixels` pixels across all pictures.
    init(_ spec: CardSpec, sources: ImageSources, limits: ResourceLimits = ResourceLimits()) throws(OffloadError) {
        guard spec.layers.count <= limits.maxLayers else {
            throw .overBudget("layers", limit: limits.maxLayers, "payload.params.layers has \(OffloadError.grouped(spec.layers.count)) layers")
        }
        for font in spec.fontURLs {
            let field = "payload.params.fontUrls[\(OffloadError.quote(font.family, limit: 40))]"
            try RenderStop.check()
            try FontRegistry.register(try sources.load(font.url, field: field), family: font.family, field: field)
        }
        FontRegistry.refreshThisThread()
        var budget = PixelBudget(limit: limits.maxDecodedPixels)
        var decoded: [String: Picture] = [:]
        func picture(_ reference: String, field: String) throws(OffloadError) -> Picture {
            if let known = decoded[reference] { return known }
            try RenderStop.check()
            let made = try Picture(bytes: try sources.load(reference, field: field), field: field, budget: &budget)
            decoded[reference] = made
            return made
        }
        if let url = spec.logoURL { logo = try picture(url, field: "payload.params.logoUrl") }
        if let url = spec.backgroundImageURL { background = try picture(url, field: "payload.params.backgroundImageUrl") }
        for (index, layer) in spec.layers.enumerated() {
            guard case .image(let image) = layer.content else { continue }
            layers[index] = try picture(image.source, field: "payload.params.layers[\(index)].src")
        }
    }
}
