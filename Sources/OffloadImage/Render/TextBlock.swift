import CPangoCairo

/// A Pango layout of one text (title or description) wrapped to a width: shaped by HarfBuzz,
/// fonts found by fontconfig (colour emoji included), at most `maxLines` lines ending in "…".
final class TextBlock {
    let layout: OpaquePointer

    init(
        context: OpaquePointer, text: String, family: String, bold: Bool, size: Double, width: Double,
        maxLines: Int, align: TextAlignment, lineSpacing: Double, letterSpacing: Double = 0
    ) {
        layout = pango_cairo_create_layout(context)
        let font = pango_font_description_new()
        pango_font_description_set_family(font, family)
        pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL)
        pango_font_description_set_absolute_size(font, size * Double(offload_pango_scale()))
        pango_layout_set_font_description(layout, font)
        pango_font_description_free(font)
        pango_layout_set_width(layout, Int32(width * Double(offload_pango_scale())))
        pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
        pango_layout_set_height(layout, Int32(-maxLines))
        pango_layout_set_line_spacing(layout, Float(lineSpacing))
        pango_layout_set_alignment(layout, align.pango)
        pango_layout_set_text(layout, text, -1)
        if letterSpacing != 0 {
            let attributes = pango_attr_list_new()
            pango_attr_list_insert(attributes, pango_attr_letter_spacing_new(Int32(letterSpacing * Double(offload_pango_scale()))))
            pango_layout_set_attributes(layout, attributes)
            pango_attr_list_unref(attributes)
        }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(layout)) }

    /// The laid-out size in pixels (logical extents).
    var size: (width: Double, height: Double) {
        var ink = PangoRectangle()
        var logical = PangoRectangle()
        pango_layout_get_pixel_extents(layout, &ink, &logical)
        return (Double(logical.width), Double(logical.height))
    }

    /// The inked box in pixels, relative to the layout's origin.
    var inkExtents: (x: Int, y: Int, width: Int, height: Int) {
        var ink = PangoRectangle()
        pango_layout_get_pixel_extents(layout, &ink, nil)
        return (Int(ink.x), Int(ink.y), Int(ink.width), Int(ink.height))
    }

    func show(on context: OpaquePointer, x: Double, y: Double) {
        cairo_move_to(context, x, y)
        pango_cairo_show_layout(context, layout)
    }

    /// Adds the text's outlines to the current path.
    func addPath(on context: OpaquePointer, x: Double, y: Double) {
        cairo_move_to(context, x, y)
        pango_cairo_layout_path(context, layout)
    }
}

enum TextAlignment {
    case left, center, right

    init(_ align: TextAlign) {
        self =
            switch align {
            case .left: .left
            case .center: .center
            case .right: .right
            }
    }

    var pango: PangoAlignment {
        switch self {
        case .left: PANGO_ALIGN_LEFT
        case .center: PANGO_ALIGN_CENTER
        case .right: PANGO_ALIGN_RIGHT
        }
    }
}
