/* rp_dwfl: an elfutils libdwfl session over this process's own mapped
 * objects, shared by the symbolizer and the unwinder (each keeps its own
 * session: libdwfl is not thread-safe). */
#ifndef RP_DWFL_H
#define RP_DWFL_H

#include <elfutils/libdwfl.h>

/* A session with every object mapped now; NULL on failure. */
Dwfl *rp_dwfl_begin_self(void);

/* Re-reads the mapped objects (after a dlopen). Returns 0 on failure. */
int rp_dwfl_report_self(Dwfl *dwfl);

#endif
