/// Base64 (RFC 4648), without Foundation: standard or URL-safe. Both ways run over contiguous
/// bytes with a table, for the encoded images results carry (a card is 200 KB of it).
package enum Base64 {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// Each byte's value: 0…63 for a digit of either alphabet, `skip` for padding and white
    /// space, `invalid` for anything else.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (index, digit) in standard.enumerated() { table[Int(digit)] = UInt8(index) }
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        for byte in [UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")] { table[Int(byte)] = skip }
        return table
    }()
    private static let invalid: UInt8 = 0xFF
    private static let skip: UInt8 = 0xFE

    /// `bytes` in base64: the standard alphabet with `=` padding, or (`urlSafe`) `-` and `_`
    /// without padding, as URLs carry it.
    package static func encode(_ bytes: [UInt8], urlSafe: Bool = false) -> String {
        let alphabet = urlSafe ? Self.urlSafe : standard
        let whole = bytes.count / 3 * 3
        let left = bytes.count - whole
        let length = whole / 3 * 4 + (left == 0 ? 0 : urlSafe ? left + 1 : 4)
        return String(unsafeUninitializedCapacity: length) { text in
            bytes.withUnsafeBufferPointer { input in
                alphabet.withUnsafeBufferPointer { digits in
                    var out = 0
                    var index = 0
                    while index < whole {
                        let word = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                        text[out] = digits[Int(word >> 18 & 63)]
                        text[out + 1] = digits[Int(word >> 12 & 63)]
                        text[out + 2] = digits[Int(word >> 6 & 63)]
                        text[out + 3] = digits[Int(word & 63)]
                        out += 4
                        index += 3
                    }
                    if left > 0 {
                        let word = UInt32(input[index]) << 16 | (left == 2 ? UInt32(input[index + 1]) << 8 : 0)
                        text[out] = digits[Int(word >> 18 & 63)]
                        text[out + 1] = digits[Int(word >> 12 & 63)]
                        out += 2
                        if left == 2 {
                            text[out] = digits[Int(word >> 6 & 63)]
                            out += 1
                        }
                        if !urlSafe {
                            while out < length {
                                text[out] = UInt8(ascii: "=")
                                out += 1
                            }
                        }
                    }
                    return out
                }
            }
        }
    }

    /// Standard or URL-safe base64, padding optional, white space ignored; `nil` when malformed.
    package static func decode(_ text: Substring) -> [UInt8]? {
        if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode($0) }) { return decoded }
        return Array(text.utf8).withUnsafeBufferPointer { decode($0) }
    }

    private static func decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        values.withUnsafeBufferPointer { values in
            var malformed = false
            let bytes = [UInt8](unsafeUninitializedCapacity: input.count * 3 / 4 + 3) { output, count in
                var buffer: UInt32 = 0
                var bits = 0
                var out = 0
                for character in input {
                    let value = values[Int(character)]
                    if value >= skip {
                        if value == invalid {
                            malformed = true
                            break
                        }
                        continue
                    }
                    buffer = buffer << 6 | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        output[out] = UInt8(truncatingIfNeeded: buffer >> UInt32(bits))
                        out += 1
                    }
                }
                count = out
            }
            return malformed ? nil : bytes
        }
    }
}

/// Hexadecimal digits and bytes.
package enum Hex {
    /// The value of one hexadecimal digit (either case).
    package static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The bytes an even number of hexadecimal digits write; `nil` for anything else.
    package static func bytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}
