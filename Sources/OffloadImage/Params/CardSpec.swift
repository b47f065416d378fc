public import Offload

/// An `image` payload checked and resolved: every colour parsed, every size in range. Building
/// one is where bad input fails, with `invalidPayload` naming the field.
public struct CardSpec: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable {
        case png, jpeg, webp, gif, apng

        public var fileExtension: String {
            switch self {
            case .png, .apng: "png"
            case .jpeg: "jpg"
            case .webp: "webp"
            case .gif: "gif"
            }
        }

        /// Whether the format can hold several frames.
        public var isAnimatable: Bool { self == .gif || self == .webp || self == .apng }
    }

    public enum Backdrop: Sendable, Hashable {
        case solid(CSSColor)
        /// CSS angle in degrees (0 up, 90 right).
        case linear(angle: Double, colors: [CSSColor])
        case radial(colors: [CSSColor])
    }

    public struct Shadow: Sendable, Hashable {
        public var color: CSSColor
        public var blur: Double
        public var offsetX: Double
        public var offsetY: Double
    }

    public struct Outline: Sendable, Hashable {
        public var color: CSSColor
        public var width: Double
    }

    public struct Gradient: Sendable, Hashable {
        public var type: GradientType
        public var colors: [CSSColor]
        public var start: (x: Double, y: Double)
        public var end: (x: Double, y: Double)

        public static func == (a: Gradient, b: Gradient) -> Bool {
            a.type == b.type && a.colors == b.colors && a.start == b.start && a.end == b.end
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(type)
            hasher.combine(colors)
            hasher.combine(start.x)
            hasher.combine(start.y)
            hasher.combine(end.x)
            hasher.combine(end.y)
        }
    }

    public var width: Int
    public var height: Int
    public var format: Format
    public var quality: Int
    public var title: String
    public var description: String?
    public var backdrop: Backdrop
    public var textColor: CSSColor
    public var fontFamily: String
    public var titleFontSize: Double
    public var descriptionFontSize: Double
    public var textAlign: TextAlign
    public var padding: Double
    public var shadow: Shadow?
    public var outline: Outline?
    public var gradient: Gradient?
    /// Applied to the whole card, in order.
    public var filters: [CanvasFilter]
    /// Fonts to add before drawing: family name and where its file is.
    public var fontURLs: [FontSource]

    public struct FontSource: Sendable, Hashable {
        public var family: String
        public var url: String
    }
    /// Layers drawn in z-order with the card's own content (at z 0).
    public var layers: [LayerSpec]
    /// Animations of the content; empty for a still image.
    public var animations: [AnimationSpec]
    public var frameRate: Double
    /// How many times an animation plays (0: for ever).
    public var loops: Int
    /// 1 for a still image.
    public var frameCount: Int
    /// A logo drawn at `logoPosition`, inside the padding.
    public var logoURL: String?
    public var logoPosition: LogoPosition
    /// A picture covering the card over its backdrop, at `backgroundImageOpacity`.
    public var backgroundImageURL: String?
    public var backgroundImageOpacity: Double

    /// The largest side accepted, and the most pixels a card may have.
    public static let maxSide = 4096
    /// The most filters (each passes over every pixel) and the most animations a card may have.
    public static let maxFilters = 32
    public static let maxPixels = 4096 * 2304

    /// Checks and resolves `payload`.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming the first bad field.
    public init(_ payload: ImagePayload) throws(OffloadError) {
        let params = payload.params
        // A card drawn from layers alone may leave its title empty.
        guard !params.title.trimmingSpaces().isEmpty || !(params.layers ?? []).isEmpty else {
            throw OffloadError(.invalidPayload, "payload.params.title must not be empty")
        }
        title = params.title
        description = params.description.flatMap { $0.trimmingSpaces().isEmpty ? nil : $0 }

        let (widthField, heightField) =
            payload.dimensions != nil ? ("payload.dimensions.width", "payload.dimensions.height") : ("payload.params.width", "payload.params.height")
        width = payload.dimensions?.width ?? params.width ?? 1200
        height = payload.dimensions?.height ?? params.height ?? 630
        for (value, field) in [(width, widthField), (height, heightField)] where !(1...Self.maxSide).contains(value) {
            throw OffloadError(.invalidPayload, "\(field) must be between 1 and \(Self.maxSide) (got \(value))")
        }
        guard width * height <= Self.maxPixels else {
            throw OffloadError(.invalidPayload, "\(widthField)×\(heightField) is \(width * height) pixels, over the budget of \(Self.maxPixels)")
        }

        switch payload.outputFormat?.lowercased() ?? "png" {
        case "png": format = .png
        case "jpeg", "jpg": format = .jpeg
        case "webp": format = .webp
        case "gif": format = .gif
        case "apng": format = .apng
        case let other:
            throw OffloadError(.invalidPayload, "payload.outputFormat '\(other)' is not one of png, jpeg, webp, gif, apng")
        }
        quality = payload.quality ?? 85
        guard (1...100).contains(quality) else {
            throw OffloadError(.invalidPayload, "payload.quality must be between 1 and 100 (got \(quality))")
        }
        var filters: [CanvasFilter] = []
        guard (payload.filters ?? []).count <= Self.maxFilters else {
            throw OffloadError(.invalidPayload, "payload.filters has \((payload.filters ?? []).count) filters, over the limit of \(Self.maxFilters)")
        }
        for (index, filter) in (payload.filters ?? []).enumerated() {
            filters.append(try CanvasFilter(filter, field: "payload.filters[\(index)]"))
        }
        self.filters = filters
        var animations: [AnimationSpec] = []
        guard (payload.animations ?? []).count <= Self.maxFilters else {
            throw OffloadError(
                .invalidPayload, "payload.animations has \((payload.animations ?? []).count) animations, over the limit of \(Self.maxFilters)")
        }
        for (index, animation) in (payload.animations ?? []).enumerated() {
            animations.append(try AnimationSpec(animation, field: "payload.animations[\(index)]", cardWidth: width, cardHeight: height))
        }
        self.animations = animations
        if !animations.isEmpty && !format.isAnimatable {
            throw OffloadError(
                .invalidPayload, "payload.animations need an animated payload.outputFormat (gif, webp or apng), not \(format.rawValue)")
        }
        frameRate = payload.frameRate ?? 15
        guard frameRate.isFinite, (1...50).contains(frameRate) else {
            throw OffloadError(.invalidPayload, "payload.frameRate must be between 1 and 50 frames a second")
        }
        loops = payload.loops ?? 0
        guard (0...65_535).contains(loops) else {
            throw OffloadError(.invalidPayload, "payload.loops must be between 0 (for ever) and 65535")
        }
        let seconds = animations.map(\.activeDuration).max() ?? 0
        frameCount = animations.isEmpty ? 1 : Int((seconds * frameRate).rounded(.up)) + 1
        guard frameCount <= Animator.maxFrames else {
            throw OffloadError(
                .invalidPayload,
                "payload.animations last \(seconds) s, \(frameCount) frames at \(frameRate) a second: over the limit of \(Animator.maxFrames) (shorten them or lower payload.frameRate)"
            )
        }
        guard frameCount * width * height <= Self.maxPixels * 8 else {
            throw OffloadError(
                .invalidPayload, "payload.animations: \(frameCount) frames of \(width)×\(height) are over the budget of \(Self.maxPixels * 8) pixels")
        }
        fontURLs = (params.fontUrls ?? [:]).sorted { $0.key < $1.key }.map { FontSource(family: $0.key, url: $0.value) }
        for font in fontURLs where font.family.trimmingSpaces().isEmpty || font.url.isEmpty {
            throw OffloadError(.invalidPayload, "payload.params.fontUrls needs a family name and a file or data: URL for each font")
        }

        logoURL = params.logoUrl
        logoPosition = params.logoPosition ?? .topLeft
        backgroundImageURL = params.backgroundImageUrl
        backgroundImageOpacity = params.backgroundImageOpacity ?? 1
        guard backgroundImageOpacity.isFinite, (0...1).contains(backgroundImageOpacity) else {
            throw OffloadError(.invalidPayload, "payload.params.backgroundImageOpacity must be between 0 and 1")
        }
        backdrop = try Self.backdrop(payload.background, fallback: params.backgroundColor)
        textColor = try params.textColor.map { text throws(OffloadError) in try CSSColor(parsing: text, field: "payload.params.textColor") } ?? .white
        fontFamily = params.fontFamily ?? params.defaultFontFamily ?? "Inter"
        guard !fontFamily.trimmingSpaces().isEmpty else {
            throw OffloadError(.invalidPayload, "payload.params.fontFamily must not be empty")
        }
        // Defaults scale with the card (64 px titles on 1200×630) and stay in the accepted range.
        titleFontSize = params.titleFontSize ?? min(1000, max(8, Double(min(width, height * 2)) / 18.75))
        descriptionFontSize = params.descriptionFontSize ?? max(4, titleFontSize * 0.5)
        for (size, field) in [(titleFontSize, "payload.params.titleFontSize"), (descriptionFontSize, "payload.params.descriptionFontSize")]
        where !(size.isFinite && size >= 4 && size <= 1000) {
            throw OffloadError(.invalidPayload, "\(field) must be between 4 and 1000 pixels")
        }
        textAlign = params.textAlign ?? .left
        padding = params.padding ?? Double(min(width, height)) / 10.5
        guard padding.isFinite, padding >= 0, padding * 2 < Double(min(width, height)) else {
            throw OffloadError(.invalidPayload, "payload.params.padding must be at least 0 and leave room for text (got \(padding))")
        }
        shadow = try params.textShadow.map { shadow throws(OffloadError) in try Self.shadow(shadow, field: "payload.params.textShadow") }
        outline = try params.textOutline.map { outline throws(OffloadError) in try Self.outline(outline, field: "payload.params.textOutline") }
        gradient = try params.textGradient.map { gradient throws(OffloadError) in try Self.gradient(gradient, field: "payload.params.textGradient") }
        var layers: [LayerSpec] = []
        for (index, layer) in (params.layers ?? []).enumerated() {
            layers.append(try LayerSpec(layer, field: "payload.params.layers[\(index)]", defaultFamily: fontFamily))
        }
        self.layers = layers
    }

    static func shadow(_ shadow: TextShadow, field: String) throws(OffloadError) -> Shadow {
        guard [shadow.blur, shadow.offsetX, shadow.offsetY].allSatisfy(\.isFinite), (0...200).contains(shadow.blur) else {
            throw OffloadError(.invalidPayload, "\(field).blur must be between 0 and 200, and its offsets finite")
        }
        return Shadow(
            color: try CSSColor(parsing: shadow.color, field: "\(field).color"),
            blur: shadow.blur, offsetX: shadow.offsetX, offsetY: shadow.offsetY)
    }

    static func outline(_ outline: TextOutline, field: String) throws(OffloadError) -> Outline {
        guard outline.width.isFinite, (0...100).contains(outline.width) else {
            throw OffloadError(.invalidPayload, "\(field).width must be between 0 and 100")
        }
        return Outline(color: try CSSColor(parsing: outline.color, field: "\(field).color"), width: outline.width)
    }

    static func gradient(_ gradient: TextGradient, field: String) throws(OffloadError) -> Gradient {
        guard gradient.colors.count >= 2 else {
            throw OffloadError(.invalidPayload, "\(field).colors needs at least two colours")
        }
        var colors: [CSSColor] = []
        for (index, text) in gradient.colors.enumerated() {
            colors.append(try CSSColor(parsing: text, field: "\(field).colors[\(index)]"))
        }
        guard [gradient.startX, gradient.startY, gradient.endX, gradient.endY].allSatisfy(\.isFinite) else {
            throw OffloadError(.invalidPayload, "\(field) coordinates must be finite")
        }
        return Gradient(type: gradient.gradientType, colors: colors, start: (gradient.startX, gradient.startY), end: (gradient.endX, gradient.endY))
    }

    private static func backdrop(_ background: JSONValue?, fallback: String?) throws(OffloadError) -> Backdrop {
        switch background {
        case nil, .null?:
            return .solid(
                try fallback.map { text throws(OffloadError) in try CSSColor(parsing: text, field: "payload.params.backgroundColor") }
                    ?? CSSColor(red: 0x0f / 255, green: 0x17 / 255, blue: 0x2a / 255))
        case .string(let text)?:
            return .solid(try CSSColor(parsing: text, field: "payload.background"))
        case let object?:
            let gradient = try JSONValueDecoder().decode(GradientBackground.self, from: object, root: "payload.background")
            guard gradient.colors.count >= 2 else {
                throw OffloadError(.invalidPayload, "payload.background.colors needs at least two colours")
            }
            var colors: [CSSColor] = []
            for (index, text) in gradient.colors.enumerated() {
                colors.append(try CSSColor(parsing: text, field: "payload.background.colors[\(index)]"))
            }
            switch gradient.type {
            case .linear:
                let angle = gradient.angle ?? 180
                guard angle.isFinite else { throw OffloadError(.invalidPayload, "payload.background.angle must be finite") }
                return .linear(angle: angle, colors: colors)
            case .radial:
                return .radial(colors: colors)
            }
        }
    }
}
