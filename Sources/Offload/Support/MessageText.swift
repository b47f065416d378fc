/// How messages quote what a job gave: short, and never all of a long input.
extension OffloadError {
    /// `text` in quotes; when longer than `limit` characters, its start and its length:
    /// `'((((((((…' (20,001 bytes)`.
    public static func quote(_ text: some StringProtocol, limit: Int = 60) -> String {
        guard text.count > limit else { return "'\(text)'" }
        return "'\(text.prefix(limit))…' (\(grouped(text.utf8.count)) bytes)"
    }

    /// `12345678` → `12,345,678`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}
