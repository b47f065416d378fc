import Offload

/// How deeply a WebAssembly text module nests, read before the text reaches WasmKit's parser,
/// which descends once per level on the thread's stack: a module of 10,000 nested blocks
/// would overflow it and take the process down, so such a module is refused first.
enum TextNesting {
    /// The deepest a `.wat` module may nest, parentheses and `block`/`loop`/`if` … `end` together.
    static let maxDepth = 256

    /// Throws ``OffloadError/Code/invalidPlugin`` naming `name` when `text` nests deeper than ``maxDepth``.
    static func check(_ text: [UInt8], name: String) throws(OffloadError) {
        var parentheses = 0
        var blocks = 0
        var index = 0
        var previousWasOpen = false
        while index < text.count {
            let byte = text[index]
            switch byte {
            case UInt8(ascii: "\""):
                // A string: up to its closing quote, past escapes.
                index += 1
                while index < text.count, text[index] != UInt8(ascii: "\"") {
                    index += text[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                previousWasOpen = false
                continue
            case UInt8(ascii: ";") where index + 1 < text.count && text[index + 1] == UInt8(ascii: ";"):
                while index < text.count, text[index] != 0x0A { index += 1 }
                continue
            case UInt8(ascii: "(") where index + 1 < text.count && text[index + 1] == UInt8(ascii: ";"):
                // A block comment, which may nest.
                var depth = 1
                index += 2
                while index < text.count, depth > 0 {
                    if text[index] == UInt8(ascii: "(") && index + 1 < text.count && text[index + 1] == UInt8(ascii: ";") {
                        depth += 1
                        index += 2
                    } else if text[index] == UInt8(ascii: ";") && index + 1 < text.count && text[index + 1] == UInt8(ascii: ")") {
                        depth -= 1
                        index += 2
                    } else {
                        index += 1
                    }
                }
                continue
            case UInt8(ascii: "("):
                parentheses += 1
                previousWasOpen = true
                index += 1
            case UInt8(ascii: ")"):
                parentheses = max(0, parentheses - 1)
                previousWasOpen = false
                index += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"):
                let start = index
                while index < text.count, Self.isIdentifier(text[index]) { index += 1 }
                let word = text[start..<index]
                // Flat control instructions open a level their `end` closes; folded ones are parenthesised.
                if !previousWasOpen,
                    word.elementsEqual("block".utf8) || word.elementsEqual("loop".utf8) || word.elementsEqual("if".utf8)
                        || word.elementsEqual("try".utf8)
                {
                    blocks += 1
                } else if word.elementsEqual("end".utf8) {
                    blocks = max(0, blocks - 1)
                }
                previousWasOpen = false
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            default:
                previousWasOpen = false
                index += 1
            }
            guard parentheses + blocks <= maxDepth else {
                throw .plugin(.invalidPlugin, "\(name) nests deeper than \(maxDepth) levels (parentheses and blocks); refused before parsing")
            }
        }
    }

    private static func isIdentifier(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "$"), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}
