/* mod_reqprof's log mode and saved profiles (mod_reqprof_log.c): the
 * ReqProfileLog record and the files ReqProfileDir keeps, written at
 * log_transaction once the response is out. */
#ifndef MOD_REQPROF_LOG_H
#define MOD_REQPROF_LOG_H

#include "mod_reqprof.h"

#include "mod_reqprof_request.h"

#include "rp_format.h"
#include "rp_profile.h"

/* Hooks open_logs (ReqProfileLogFile) and post_config (ReqProfileDir
 * checked). */
void rp_log_register(void);
/* Hooks log_transaction. */
void rp_log_register_request_hooks(void);
/* At the response's end (ended) in log mode (sampling stopped, on the
 * request's thread): builds the profile if it is to be kept. */
void rp_log_capture(request_rec *r, rp_request_t *state, apr_time_t ended);
/* A triggered report (body, in format) went out: keep it for saving, if
 * ReqProfileDir is set. pool holds the profile's tree. */
void rp_log_keep_report(request_rec *r, rp_request_t *state,
                        rp_profile_t *profile, rp_format_e format,
                        const char *body, apr_size_t len);

#endif
