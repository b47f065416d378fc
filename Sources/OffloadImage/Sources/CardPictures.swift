public import Offload

/// The pictures a card names, read and decoded before drawing starts.
struct CardPictures {
    var logo: Picture?
    var background: Picture?

    init() {}

    init(_ spec: CardSpec, sources: ImageSources) throws(OffloadError) {
        if let url = spec.logoURL {
            logo = try Picture(bytes: try sources.load(url, field: "payload.params.logoUrl"), field: "payload.params.logoUrl")
        }
        if let url = spec.backgroundImageURL {
            background = try Picture(bytes: try sources.load(url, field: "payload.params.backgroundImageUrl"),
                                     field: "payload.params.backgroundImageUrl")
        }
    }
}
