/* Each request's profiling state machine (mod_reqprof_request.c), acting on
 * what mod_reqprof_decide.c decides: when sampling starts (as early as
 * post_read_request when the server-level configuration allows it, confirmed or
 * cancelled once the per-directory configuration is known in fixups), and the
 * phase marks that split the request into httpd's stages. */
#ifndef MOD_REQPROF_REQUEST_H
#define MOD_REQPROF_REQUEST_H

#include "mod_reqprof.h"

#include "mod_reqprof_config.h"

#include "rp_format.h"
#include "rp_phase.h"
#include "rp_sampler.h"

/* Where a request's profiling stands (see move_to in mod_reqprof_request.c
 * for the transitions). */
typedef enum {
    RP_STATE_NONE = 0,  /* not sampled: Server-Timing alone, or refused */
    RP_STATE_TENTATIVE, /* sampled since post_read_request, before the
                           directory's configuration was known; fixups
                           confirms or cancels it */
    RP_STATE_REPORT,    /* sampled for a report that replaces the response */
    RP_STATE_LOG,       /* sampled in log mode: the response passes */
    RP_STATE_FINISHED   /* the response ended, sampling stopped */
} rp_state_e;

/* One request's profile, or its phase timing alone (Server-Timing). An
 * internal redirect or ErrorDocument continues it: one request, one
 * profile. Opaque: only mod_reqprof_request.c writes it; the other glue
 * files read it through the functions below. */
typedef struct rp_request rp_request_t;

/* Hooks post_read_request, the phase marks and fixups. */
void rp_request_register_request_hooks(void);

rp_request_t *rp_request_find(const request_rec *r);

/* Whether r may have a state (rp_request_find): most requests have none,
 * which every hook can see from two loads. */
static inline int rp_request_maybe(const request_rec *r)
{
    return r->prev != NULL ||
           ap_get_module_config(r->request_config, &reqprof_module) != NULL;
}
/* At insert_filter (the response is about to start): a session still
 * tentative is confirmed for log mode or cancelled, as an error response
 * before fixups allows. Returns the request's state, or NULL. */
rp_request_t *rp_request_settle(request_rec *r);
/* The response is (or was) replaced by a report. */
int rp_request_replaced(const rp_request_t *state);
/* The phases so far into out, the running one closed now (Server-Timing).
 * A request not being sampled has its phases ended here. */
void rp_request_phases_now(rp_request_t *state,
                           rp_phase_span_t out[RP_PHASE_COUNT]);
/* The response ended: stop sampling, close the running phase and give back
 * the profile's slot. */
void rp_request_finish(rp_request_t *state);

rp_state_e rp_request_state(const rp_request_t *state);
/* The report's format (tentative or report). */
rp_format_e rp_request_format(const rp_request_t *state);
/* RP_LOG_OFF for a triggered report. */
rp_log_mode_e rp_request_log_mode(const rp_request_t *state);
/* Add a Server-Timing header if the response is not replaced. */
int rp_request_server_timing(const rp_request_t *state);
/* Log mode "slow": a request that ended at ended was faster than the
 * threshold, and its profile is not kept. */
int rp_request_fast_enough(const rp_request_t *state, apr_time_t ended);
/* When httpd read the request line. */
apr_time_t rp_request_time(const rp_request_t *state);
/* When sampling started. */
apr_time_t rp_request_started(const rp_request_t *state);
/* The session's sampler (NULL: not profiling). */
rp_sampler_t *rp_request_sampler(const rp_request_t *state);
/* The phases as they were closed (after rp_request_finish: all of them). */
void rp_request_phases(const rp_request_t *state,
                       rp_phase_span_t out[RP_PHASE_COUNT]);
/* One pointer of mod_reqprof_log.c's own per-request data, kept with the
 * state so that an internal redirect finds it. */
void *rp_request_log_data(const rp_request_t *state);
/* The id of the request's saved profile, made the first time it is asked
 * for (a stored request announces it in its headers). */
const char *rp_request_id(request_rec *r, rp_request_t *state);
/* The W3C trace id the request carried (traceparent), or NULL. */
const char *rp_request_trace(const rp_request_t *state);
void rp_request_set_log_data(rp_request_t *state, void *data);

#endif
