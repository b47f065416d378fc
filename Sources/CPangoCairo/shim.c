// The headers of this target are its reason to be: pango's, reached through include/pango.
#include "shim.h"
