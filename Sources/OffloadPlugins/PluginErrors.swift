public import Offload

extension OffloadError.Code {
    /// The plugin trapped (unreachable, an out-of-bounds access, a stack overflow…); the message
    /// has the trap's reason.
    public static let pluginTrapped: Self = "pluginTrapped"
    /// The plugin returned a pointer or length outside its memory, or output that is not JSON.
    public static let invalidPluginOutput: Self = "invalidPluginOutput"
    /// The plugin's folder, manifest or module is not usable (the message says what is wrong).
    public static let invalidPlugin: Self = "invalidPlugin"
    /// The plugin asks for something (an import) that it was not granted.
    public static let permissionDenied: Self = "permissionDenied"
    /// No plugin has the id, or none has a version that matches.
    public static let pluginNotFound: Self = "pluginNotFound"
}

extension OffloadError {
    /// A failure of a plugin that another attempt would repeat (its code, input and limits are the same).
    static func plugin(_ code: Code, _ message: String) -> OffloadError {
        OffloadError(code, message, retryable: false)
    }
}
