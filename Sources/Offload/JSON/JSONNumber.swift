/// Converts the bytes of a JSON number (already checked against the grammar) to a value without
/// making a string: integers of up to 18 digits directly, and decimals whose digits fit in 2⁵³
/// with a power of ten up to 10²² by one exact multiplication or division (Clinger's fast path,
/// correctly rounded); anything else goes through the standard library's parsers.
package enum JSONNumber {
    /// `.int` for an integer literal that fits in `Int64`, else `.double`; `nil` when the number
    /// is beyond a `Double`'s range.
    package static func value(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var index = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { index += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var integral = true
        var scale = 0
        while index < bytes.count, bytes[index] &- 0x30 < 10 {
            mantissa = mantissa &* 10 &+ UInt64(bytes[index] &- 0x30)
            digits += 1
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            while index < bytes.count, bytes[index] &- 0x30 < 10 {
                mantissa = mantissa &* 10 &+ UInt64(bytes[index] &- 0x30)
                digits += 1
                scale -= 1
                index += 1
            }
        }
        if index < bytes.count {
            integral = false
            index += 1
            var exponentNegative = false
            if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var exponent = 0
            while index < bytes.count {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] &- 0x30) }
                index += 1
            }
            scale += exponentNegative ? -exponent : exponent
        }
        if integral, digits <= 18 {
            return .int(negative ? -Int64(mantissa) : Int64(mantissa))
        }
        if !integral, digits <= 19, mantissa <= 1 << 53, abs(scale) <= 22 {
            var value = Double(mantissa)
            value = scale < 0 ? value / powersOfTen[-scale] : value * powersOfTen[scale]
            return .double(negative ? -value : value)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if integral, let value = Int64(text) { return .int(value) }
        guard let value = Double(text), value.isFinite else { return nil }
        return .double(value)
    }

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }
}
