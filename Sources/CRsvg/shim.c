// The headers of this target are its reason to be: librsvg's and gdk-pixbuf's, reached through include/.
#include "shim.h"
