#include <cairo.h>
#include <pango/pangocairo.h>
#include <fontconfig/fontconfig.h>

/// PANGO_SCALE as a value Swift can read (the macro is not imported).
static inline int offload_pango_scale(void) { return PANGO_SCALE; }
#include <pango/pangofc-fontmap.h>
#include <fontconfig/fcfreetype.h>

/// The calling thread's default Pango font map, as the fontconfig map it is on Linux.
static inline PangoFcFontMap *offload_thread_font_map(void) {
    return PANGO_FC_FONT_MAP(pango_cairo_font_map_get_default());
}
