/* The one path from a finished request's samples to a profile
 * (mod_reqprof_capture.c), for the report, log mode and saving alike. */
#ifndef MOD_REQPROF_CAPTURE_H
#define MOD_REQPROF_CAPTURE_H

#include "mod_reqprof.h"

#include "mod_reqprof_request.h"

#include "rp_profile.h"

/* On the request's thread, its sampling stopped: fills the profile's
 * request and process fields (discarded_bytes: the original body a report
 * replaced), builds its tree from the samples with the MPM's exit signals
 * held, and discards the samples. The profile and its tree live in pool. */
rp_profile_t *rp_capture(request_rec *r, const rp_request_t *state,
                         apr_off_t discarded_bytes, apr_pool_t *pool);

#endif
