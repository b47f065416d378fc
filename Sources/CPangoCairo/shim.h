#include <cairo.h>
#include <pango/pangocairo.h>
#include <fontconfig/fontconfig.h>

/// PANGO_SCALE as a value Swift can read (the macro is not imported).
static inline int offload_pango_scale(void) { return PANGO_SCALE; }
