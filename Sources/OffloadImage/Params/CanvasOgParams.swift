public import Offload

/// The parameters of an Open Graph card: upstream's 21-field `CanvasOgParams`, every key
/// camelCase, all optional but `title`.
public struct CanvasOgParams: Codable, Sendable, Hashable {
    public var title: String
    public var description: String?
    public var width: Int?
    public var height: Int?
    public var backgroundColor: String?
    public var textColor: String?
    public var fontFamily: String?
    public var titleFontSize: Double?
    public var descriptionFontSize: Double?
    public var logoUrl: String?
    public var fontUrls: [String: String]?
    public var defaultFontFamily: String?
    public var layers: [JSONValue]?
    public var backgroundImageUrl: String?
    public var backgroundImageOpacity: Double?
    public var textGradient: TextGradient?
    public var textShadow: TextShadow?
    public var textOutline: TextOutline?
    public var logoPosition: LogoPosition?
    public var textAlign: TextAlign?
    public var padding: Double?

    public init(title: String, description: String? = nil) {
        self.title = title
        self.description = description
    }
}

public enum TextAlign: String, Codable, Sendable, Hashable {
    case left, center, right
}

public enum LogoPosition: String, Codable, Sendable, Hashable {
    case topLeft, topRight, bottomLeft, bottomRight, center
}

public enum GradientType: String, Codable, Sendable, Hashable {
    case linear, radial
}

/// A gradient over the text: colours spread evenly from (startX, startY) to (endX, endY), in
/// fractions of the text's box (0…1).
public struct TextGradient: Codable, Sendable, Hashable {
    public var gradientType: GradientType
    public var colors: [String]
    public var startX: Double
    public var startY: Double
    public var endX: Double
    public var endY: Double

    public init(gradientType: GradientType = .linear, colors: [String], startX: Double = 0, startY: Double = 0, endX: Double = 1, endY: Double = 0) {
        self.gradientType = gradientType
        self.colors = colors
        self.startX = startX
        self.startY = startY
        self.endX = endX
        self.endY = endY
    }
}

public struct TextShadow: Codable, Sendable, Hashable {
    public var color: String
    public var blur: Double
    public var offsetX: Double
    public var offsetY: Double

    public init(color: String, blur: Double, offsetX: Double = 0, offsetY: Double = 0) {
        self.color = color
        self.blur = blur
        self.offsetX = offsetX
        self.offsetY = offsetY
    }
}

public struct TextOutline: Codable, Sendable, Hashable {
    public var color: String
    public var width: Double

    public init(color: String, width: Double) {
        self.color = color
        self.width = width
    }
}
