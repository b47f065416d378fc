import HTTPTypes

/// Header names HTTPTypes does not spell out.
extension HTTPField.Name {
    static let offloadLastEventID = HTTPField.Name("Last-Event-ID")!
    static let offloadForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let offloadReferrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let offloadFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let offloadCache = HTTPField.Name("X-Cache")!
    /// Tells nginx not to buffer a stream.
    static let offloadAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
