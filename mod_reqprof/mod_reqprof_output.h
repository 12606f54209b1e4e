/* mod_reqprof's output filters (mod_reqprof_output.c): REQPROF replaces a
 * triggered request's response with its report, REQPROF_LOG passes a
 * response profiled in log mode through, REQPROF_TIMING adds Server-Timing.
 */
#ifndef MOD_REQPROF_OUTPUT_H
#define MOD_REQPROF_OUTPUT_H

#include "mod_reqprof.h"

#include "mod_reqprof_request.h"

/* Registers the filters. */
void rp_output_register(void);
/* Adds the filters the request needs, if any, once. */
void rp_output_insert(request_rec *r, rp_request_t *state);

#endif
