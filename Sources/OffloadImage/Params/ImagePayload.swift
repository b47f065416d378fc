public import Offload

/// The payload of an `image` job.
///
/// ```json
/// {"params":{"title":"Hello","description":"From a worker"},"outputFormat":"png",
///  "dimensions":{"width":1200,"height":630},"background":{"type":"linear","colors":["#0f172a","#1e3a8a"],"angle":135}}
/// ```
public struct ImagePayload: Codable, Sendable, Hashable {
    public var params: CanvasOgParams
    /// `png` (default), `jpeg`, `webp`, `gif` or `apng` (the last three animate).
    public var outputFormat: String?
    /// JPEG and WebP quality, 1…100 (default 85).
    public var quality: Int?
    /// The card's size in pixels (default: `params.width`×`params.height`, else 1200×630).
    public var dimensions: Dimensions?
    /// The backdrop: a CSS colour string, or a gradient object. Overrides `params.backgroundColor`.
    public var background: JSONValue?
    /// Filters applied to the whole card, in order (see ``CanvasFilter``).
    public var filters: [JSONValue]?
    /// Animations of the content (see ``AnimationSpec``); they need gif, webp or apng.
    public var animations: [JSONValue]?
    /// Frames a second of an animation, 1…50 (default 15).
    public var frameRate: Double?
    /// How many times an animation plays; 0 (default) for ever.
    public var loops: Int?
    /// `file` (default): the image is written to the kind's output folder and the result names
    /// it. `inline`: nothing is written; the result carries the encoded image (`base64`), within
    /// ``ResourceLimits/maxMessageBytes`` — for a server that keeps cards in memory.
    public var output: String?

    public init(
        params: CanvasOgParams, outputFormat: String? = nil, quality: Int? = nil, dimensions: Dimensions? = nil,
        background: JSONValue? = nil, filters: [JSONValue]? = nil, animations: [JSONValue]? = nil,
        frameRate: Double? = nil, loops: Int? = nil, output: String? = nil
    ) {
        self.params = params
        self.outputFormat = outputFormat
        self.quality = quality
        self.dimensions = dimensions
        self.background = background
        self.filters = filters
        self.animations = animations
        self.frameRate = frameRate
        self.loops = loops
        self.output = output
    }

    public struct Dimensions: Codable, Sendable, Hashable {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }
    }
}

/// A linear or radial gradient backdrop: `{"type":"linear","colors":[…],"angle":135}` (CSS
/// angle: 0 points up, 90 right) or `{"type":"radial","colors":[…]}` (from the centre out).
struct GradientBackground: Codable, Sendable, Hashable {
    var type: GradientType
    var colors: [String]
    var angle: Double?
}
