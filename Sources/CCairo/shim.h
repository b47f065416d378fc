// cairo, and through its pkg-config file the include folders of glib, gobject, freetype and
// fontconfig that pango's and librsvg's headers need.
#include <cairo.h>
