/// A version `MAJOR.MINOR.PATCH` (with an optional `-pre-release`, which sorts before the release).
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    public var preRelease: String?

    public init?(_ text: String) {
        let (core, pre) = text.firstIndex(of: "-").map { (text[..<$0], String(text[text.index(after: $0)...])) } ?? (text[...], nil)
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let major = Self.number(parts[0]), let minor = Self.number(parts[1]), let patch = Self.number(parts[2]) else {
            return nil
        }
        if let pre, pre.isEmpty || !pre.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) { return nil }
        (self.major, self.minor, self.patch, preRelease) = (major, minor, patch, pre)
    }

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCII), text == "0" || !text.hasPrefix("0") else { return nil }
        return Int(text)
    }

    public var description: String { "\(major).\(minor).\(patch)" + (preRelease.map { "-\($0)" } ?? "") }

    public static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch) { return (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch) }
        switch (a.preRelease, b.preRelease) {
        case (nil, nil), (nil, _?): return false
        case (_?, nil): return true
        case (let x?, let y?): return x < y
        }
    }
}

/// Which versions a job accepts: `1.2.3` (exactly), `^1.2` (1.2.0 up to, not including, 2.0.0;
/// `^0.3` stays within 0.3), `~1.2` (1.2.x), `>=1.2.0`, `*` (any). A requirement without a
/// pre-release never matches one.
public struct VersionRequirement: Sendable, CustomStringConvertible {
    private let lower: SemanticVersion?
    private let upper: SemanticVersion?
    private let includesUpper: Bool
    public let description: String

    public init?(_ text: String) {
        description = text
        let trimmed = text.trimmingPrefix(while: { $0 == " " })
        func partial(_ body: Substring) -> (SemanticVersion, Int)? {
            let parts = body.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...3).contains(parts.count) else { return nil }
            let padded = parts.map(String.init) + Array(repeating: "0", count: 3 - parts.count)
            return SemanticVersion(padded.joined(separator: ".")).map { ($0, parts.count) }
        }
        if trimmed == "*" || trimmed.isEmpty {
            (lower, upper, includesUpper) = (nil, nil, false)
        } else if trimmed.hasPrefix("^"), let (version, given) = partial(trimmed.dropFirst()) {
            let upper: SemanticVersion
            if version.major > 0 || given == 1 {
                upper = SemanticVersion("\(version.major + 1).0.0")!
            } else if version.minor > 0 || given == 2 {
                upper = SemanticVersion("0.\(version.minor + 1).0")!
            } else {
                upper = SemanticVersion("0.0.\(version.patch + 1)")!
            }
            (lower, self.upper, includesUpper) = (version, upper, false)
        } else if trimmed.hasPrefix("~"), let (version, given) = partial(trimmed.dropFirst()) {
            let upper = given == 1 ? SemanticVersion("\(version.major + 1).0.0")! : SemanticVersion("\(version.major).\(version.minor + 1).0")!
            (lower, self.upper, includesUpper) = (version, upper, false)
        } else if trimmed.hasPrefix(">="), let (version, _) = partial(trimmed.dropFirst(2)) {
            (lower, upper, includesUpper) = (version, nil, false)
        } else if let version = SemanticVersion(String(trimmed)) {
            (lower, upper, includesUpper) = (version, version, true)
        } else {
            return nil
        }
    }

    public func matches(_ version: SemanticVersion) -> Bool {
        if version.preRelease != nil, lower?.preRelease == nil { return false }
        if let lower, version < lower { return false }
        if let upper { return includesUpper ? version <= upper : version < upper }
        return true
    }
}
