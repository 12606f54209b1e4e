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

struct rp_log_kept; /* mod_reqprof_log.c's */

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

/* rp_request_t.slot_refused */
#define RP_SLOT_REFUSED_REPORT 1
#define RP_SLOT_REFUSED_LOG 2

/* One request's profile, or its phase timing alone (Server-Timing). An
 * internal redirect or ErrorDocument continues it: one request, one
 * profile. Written by mod_reqprof_request.c (kept: by mod_reqprof_log.c);
 * the other glue files read it. */
typedef struct rp_request {
    rp_state_e state;
    rp_sampler_t *sampler; /* NULL: not profiling */
    uint64_t session;
    rp_clock_e clock;
    apr_interval_time_t interval_us;
    rp_format_e format; /* of the report (tentative or report) */
    int counted;        /* holds one of the process's concurrent profiles */
    int slot_refused;   /* RP_SLOT_REFUSED_*: ReqProfileMaxConcurrent said no */
    int cleanup_registered;
    int server_timing; /* add a Server-Timing header if not profiled */
    apr_time_t request_time;
    apr_time_t started;
    rp_phase_e phase; /* the phase running now */
    apr_time_t phase_since;
    rp_phase_span_t phases[RP_PHASE_COUNT];

    /* Log mode (ReqProfileLog): the response passes unchanged. */
    rp_log_mode_e log_mode; /* RP_LOG_OFF: a triggered report */
    apr_interval_time_t log_slow_us;
    int rate_counted; /* this request was counted against the sample rate */
    int rate_of_count;
    int rate_chosen;

    /* The profile kept for log_transaction: mod_reqprof_log.c's. */
    struct rp_log_kept *kept;
} rp_request_t;

/* Hooks post_read_request, the phase marks and fixups. */
void rp_request_register(void);

rp_request_t *rp_request_find(const request_rec *r);
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

#endif
