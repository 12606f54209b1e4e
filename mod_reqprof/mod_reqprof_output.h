/* mod_reqprof's output filters (mod_reqprof_output.c): REQPROF replaces a
 * triggered request's response with its report, REQPROF_LOG passes a
 * response profiled in log mode through, REQPROF_TIMING adds Server-Timing.
 */
#ifndef MOD_REQPROF_OUTPUT_H
#define MOD_REQPROF_OUTPUT_H

#include "mod_reqprof.h"

/* Registers the filters. */
void rp_output_register(void);
/* The insert_filter hooks that add them. */
void rp_output_register_request_hooks(void);

#endif
