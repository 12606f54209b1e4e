/* The reqprof-index handler: browses the profiles saved in ReqProfileDir
 * (mod_reqprof_index.c). */
#ifndef MOD_REQPROF_INDEX_H
#define MOD_REQPROF_INDEX_H

#include "mod_reqprof.h"

/* Hooks the handler, and the fixup that judges its client. */
void rp_index_register_request_hooks(void);

#endif
