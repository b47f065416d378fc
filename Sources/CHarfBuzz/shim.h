// HarfBuzz, whose include folder pango's headers need.
#include <hb.h>
