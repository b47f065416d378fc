public import Offload

/// A colour as CSS writes it: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb()`/`rgba()` (numbers
/// or percentages), `hsl()`/`hsla()`, a named colour or `transparent`. Components are 0…1,
/// straight (not premultiplied) alpha, sRGB.
public struct CSSColor: Sendable, Hashable, CustomStringConvertible {
    public var red: Double
    public var green: Double
    public var blue: Double
    public var alpha: Double

    public init(red: Double, green: Double, blue: Double, alpha: Double = 1) {
        self.red = red
        self.green = green
        self.blue = blue
        self.alpha = alpha
    }

    public static let black = CSSColor(red: 0, green: 0, blue: 0)
    public static let white = CSSColor(red: 1, green: 1, blue: 1)

    public var description: String {
        func byte(_ value: Double) -> String {
            let hex = String(Int((value * 255).rounded()), radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }
        return "#" + byte(red) + byte(green) + byte(blue) + (alpha < 1 ? byte(alpha) : "")
    }

    /// Parses `text`; `field` names the payload field in the error.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming the field and the text.
    public init(parsing text: String, field: String) throws(OffloadError) {
        guard let color = CSSColor.parse(text) else {
            throw OffloadError(.invalidPayload, "\(field): '\(text)' is not a colour (use #rrggbb, rgb(…), hsl(…) or a CSS colour name)")
        }
        self = color
    }

    static func parse(_ raw: String) -> CSSColor? {
        let text = raw.trimmingSpaces().lowercased()
        if text.hasPrefix("#") { return parseHex(text.dropFirst()) }
        if text == "transparent" { return CSSColor(red: 0, green: 0, blue: 0, alpha: 0) }
        if let value = NamedColors.table[text] {
            return CSSColor(
                red: Double(value >> 16 & 0xff) / 255, green: Double(value >> 8 & 0xff) / 255,
                blue: Double(value & 0xff) / 255)
        }
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else { return nil }
        let name = text[..<open].trimmingSpaces()
        let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
        // Both the comma form `rgb(1, 2, 3, 0.5)` and the space form `rgb(1 2 3 / 50%)`.
        let parts = inner.replacingSlash().split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard parts.count == 3 || parts.count == 4 else { return nil }
        let alpha = parts.count == 4 ? component(parts[3], scale: 1) : 1
        guard let alpha, (0...1).contains(alpha) else { return nil }
        switch name {
        case "rgb", "rgba":
            guard let r = component(parts[0], scale: 255), let g = component(parts[1], scale: 255),
                let b = component(parts[2], scale: 255),
                [r, g, b].allSatisfy({ (0...1).contains($0) })
            else { return nil }
            return CSSColor(red: r, green: g, blue: b, alpha: alpha)
        case "hsl", "hsla":
            let hueText = parts[0].hasSuffix("deg") ? String(parts[0].dropLast(3)) : parts[0]
            guard let hue = Double(hueText), hue.isFinite,
                parts[1].hasSuffix("%"), parts[2].hasSuffix("%"),
                let saturation = component(parts[1], scale: 100), let lightness = component(parts[2], scale: 100),
                (0...1).contains(saturation), (0...1).contains(lightness)
            else { return nil }
            return hsl(hue: hue, saturation: saturation, lightness: lightness, alpha: alpha)
        default:
            return nil
        }
    }

    private static func parseHex(_ digits: Substring) -> CSSColor? {
        guard [3, 4, 6, 8].contains(digits.count), digits.allSatisfy(\.isHexDigit) else { return nil }
        let values: [Double]
        if digits.count <= 4 {
            values = digits.map { Double(Int(String($0), radix: 16)! * 17) / 255 }
        } else {
            var pairs: [Double] = []
            var index = digits.startIndex
            while index < digits.endIndex {
                let next = digits.index(index, offsetBy: 2)
                pairs.append(Double(Int(digits[index..<next], radix: 16)!) / 255)
                index = next
            }
            values = pairs
        }
        return CSSColor(red: values[0], green: values[1], blue: values[2], alpha: values.count == 4 ? values[3] : 1)
    }

    /// A number (divided by `scale`) or a percentage.
    private static func component(_ text: String, scale: Double) -> Double? {
        if text.hasSuffix("%") {
            guard let percent = Double(text.dropLast()), percent.isFinite else { return nil }
            return percent / 100
        }
        guard let value = Double(text), value.isFinite else { return nil }
        return value / scale
    }

    private static func hsl(hue: Double, saturation: Double, lightness: Double, alpha: Double) -> CSSColor {
        let h = (hue.truncatingRemainder(dividingBy: 360) + 360).truncatingRemainder(dividingBy: 360) / 360
        func channel(_ n: Double) -> Double {
            let k = (n + h * 12).truncatingRemainder(dividingBy: 12)
            let a = saturation * min(lightness, 1 - lightness)
            return lightness - a * max(-1, min(k - 3, 9 - k, 1))
        }
        return CSSColor(red: channel(0), green: channel(8), blue: channel(4), alpha: alpha)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }

    fileprivate func replacingSlash() -> String {
        String(map { $0 == "/" ? " " : $0 })
    }
}
