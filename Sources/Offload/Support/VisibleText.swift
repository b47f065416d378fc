/// Text for a terminal: every control character (and DEL) written as `\xNN`, so that what a
/// job brings (an id, a message, what it prints) never drives the terminal it is shown on.
package enum VisibleText {
    /// `bytes` with control characters escaped; tabs are kept, and a newline when it ends
    /// `bytes` and `keepsLineEnd`.
    package static func escaped(_ bytes: [UInt8], keepsLineEnd: Bool = false) -> [UInt8] {
        func isControl(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }
        let body = keepsLineEnd && bytes.last == 0x0A ? bytes.dropLast() : bytes[...]
        guard body.contains(where: isControl) else { return bytes }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        for byte in body {
            if isControl(byte) {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
            } else {
                out.append(byte)
            }
        }
        if body.count < bytes.count { out.append(0x0A) }
        return out
    }
}
