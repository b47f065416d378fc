/// Browser, operating system and device type read from a User-Agent string (the common
/// browsers and systems; anything else is "Other").
struct UserAgent: Equatable {
    var browser: String
    var os: String
    var deviceType: String

    init(_ text: String) {
        let lower = text.lowercased()
        if ["bot", "crawler", "spider", "slurp", "bingpreview", "facebookexternalhit", "headless"].contains(where: lower.contains) {
            (browser, os, deviceType) = ("Bot", Self.system(text), "bot")
            return
        }
        browser =
            if text.contains("Edg/") || text.contains("Edge/") { "Edge" } else if text.contains("OPR/") || text.contains("Opera") {
                "Opera"
            } else if text.contains("SamsungBrowser") { "Samsung Internet" } else if text.contains("Firefox/") || text.contains("FxiOS") {
                "Firefox"
            } else if text.contains("Chrome/") || text.contains("CriOS") { "Chrome" } else if text.contains("Safari/") && text.contains("Version/") {
                "Safari"
            } else { "Other" }
        os = Self.system(text)
        deviceType =
            if text.contains("iPad") || text.contains("Tablet") || (text.contains("Android") && !text.contains("Mobile")) {
                "tablet"
            } else if text.contains("Mobi") || text.contains("iPhone") || text.contains("Android") { "mobile" } else { "desktop" }
    }

    private static func system(_ text: String) -> String {
        if text.contains("Windows") { return "Windows" }
        if text.contains("iPhone") || text.contains("iPad") || text.contains("iPod") { return "iOS" }
        if text.contains("Android") { return "Android" }
        if text.contains("CrOS") { return "ChromeOS" }
        if text.contains("Mac OS X") || text.contains("Macintosh") { return "macOS" }
        if text.contains("Linux") { return "Linux" }
        return "Other"
    }
}

/// An IP address with its last part zeroed: the last octet of IPv4, all but the first 48 bits of IPv6.
enum IPAddress {
    static func anonymized(_ address: String) -> String {
        if address.contains(".") && !address.contains(":") {
            var parts = address.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4 else { return address }
            parts[3] = "0"
            return parts.joined(separator: ".")
        }
        let groups = address.split(separator: ":", omittingEmptySubsequences: false)
        return groups.prefix(3).joined(separator: ":") + "::"
    }
}
