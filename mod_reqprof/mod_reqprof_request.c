/* Each request's profiling state, as mod_reqprof_decide.c decides it: when
 * sampling starts (as early as post_read_request when the server-level
 * configuration allows it, confirmed or cancelled once the per-directory
 * configuration is known in fixups), and the phase marks that split the request
 * into httpd's stages. */
#include "mod_reqprof_request.h"

#include "mod_reqprof_cache.h"
#include "mod_reqprof_decide.h"
#include "mod_reqprof_process.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <unistd.h>

#include "rp_record.h"
#include "rp_store.h"

APLOG_USE_MODULE(reqprof);

/* Profiles running in this process, against ReqProfileMaxConcurrent. */
static unsigned concurrent_profiles;
/* Requests counted against ReqProfileSampleRate in this process. */
static unsigned log_counter;

/* ---- request state ------------------------------------------------------- */

/* slot_refused */
#define RP_SLOT_REFUSED_REPORT 1
#define RP_SLOT_REFUSED_LOG 2

struct rp_request {
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
    void *log_data;
    const char *id;    /* of the saved profile, once made */
    const char *trace; /* traceparent's trace id, or NULL */
};

rp_state_e rp_request_state(const rp_request_t *state)
{
    return state->state;
}

rp_format_e rp_request_format(const rp_request_t *state)
{
    return state->format;
}

rp_log_mode_e rp_request_log_mode(const rp_request_t *state)
{
    return state->log_mode;
}

int rp_request_server_timing(const rp_request_t *state)
{
    return state->server_timing;
}

int rp_request_fast_enough(const rp_request_t *state, apr_time_t ended)
{
    return state->log_mode == RP_LOG_SLOW &&
           ended - state->request_time < state->log_slow_us;
}

apr_time_t rp_request_time(const rp_request_t *state)
{
    return state->request_time;
}

apr_time_t rp_request_started(const rp_request_t *state)
{
    return state->started;
}

rp_sampler_t *rp_request_sampler(const rp_request_t *state)
{
    return state->sampler;
}

void rp_request_phases(const rp_request_t *state,
                       rp_phase_span_t out[RP_PHASE_COUNT])
{
    memcpy(out, state->phases, sizeof(state->phases));
}

/* Profile ids made by this process. */
static unsigned id_sequence;

const char *rp_request_id(request_rec *r, rp_request_t *state)
{
    if (state->id == NULL) {
        char *id = apr_palloc(r->pool, RP_STORE_ID_MAX);
        rp_store_make_id(id, RP_STORE_ID_MAX, state->request_time,
                         (long)getpid(),
                         __atomic_add_fetch(&id_sequence, 1, __ATOMIC_RELAXED));
        state->id = id;
    }
    return state->id;
}

const char *rp_request_trace(const rp_request_t *state)
{
    return state->trace;
}

void *rp_request_log_data(const rp_request_t *state)
{
    return state->log_data;
}

void rp_request_set_log_data(rp_request_t *state, void *data)
{
    state->log_data = data;
}

rp_request_t *rp_request_find(const request_rec *r)
{
    /* An internal redirect or ErrorDocument continues an earlier request. */
    for (const request_rec *q = r; q != NULL; q = q->prev) {
        rp_request_t *state =
            ap_get_module_config(q->request_config, &reqprof_module);
        if (state != NULL) {
            return state;
        }
    }
    return NULL;
}

static rp_request_t *create_state(request_rec *r)
{
    rp_request_t *state = apr_pcalloc(r->pool, sizeof(*state));
    state->request_time = r->request_time;
    state->phase = RP_PHASE_NONE;
    for (int i = 0; i < RP_PHASE_COUNT; i++) {
        state->phases[i].first_us = -1;
    }
    state->server_timing = rp_conf_server_timing(r->server);
    char trace[33];
    if (rp_record_trace_id(apr_table_get(r->headers_in, "traceparent"),
                           trace)) {
        state->trace = apr_pstrdup(r->pool, trace);
    }
    ap_set_module_config(r->request_config, &reqprof_module, state);
    return state;
}

/* The request's profiling state moves only through move_to, along these
 * transitions:
 *
 *   none -> tentative        post_read_request starts a session early
 *   tentative -> report|log  fixups (or an early error, for log) confirms it
 *   tentative -> none        the directory or an early error says no
 *   none -> report|log       fixups starts a session itself
 *   report|log -> finished   the response ended (the output filters)
 */
static void move_to(rp_request_t *state, rp_state_e to)
{
    static const unsigned allowed[] = {
        [RP_STATE_NONE] = 1u << RP_STATE_TENTATIVE | 1u << RP_STATE_REPORT |
                          1u << RP_STATE_LOG,
        [RP_STATE_TENTATIVE] =
            1u << RP_STATE_REPORT | 1u << RP_STATE_LOG | 1u << RP_STATE_NONE,
        [RP_STATE_REPORT] = 1u << RP_STATE_FINISHED,
        [RP_STATE_LOG] = 1u << RP_STATE_FINISHED,
        [RP_STATE_FINISHED] = 0};
    if (allowed[state->state] & (1u << to)) {
        state->state = to;
    }
}

/* A session runs for this request (tentatively or confirmed). */
static int sampling(const rp_request_t *state)
{
    return state->state == RP_STATE_TENTATIVE ||
           state->state == RP_STATE_REPORT || state->state == RP_STATE_LOG;
}

int rp_request_replaced(const rp_request_t *state)
{
    return state->state != RP_STATE_NONE && state->log_mode == RP_LOG_OFF;
}

static void close_phase(rp_request_t *state, apr_time_t now)
{
    if (state->phase != RP_PHASE_NONE) {
        state->phases[state->phase].total_us += now - state->phase_since;
    }
    state->phase_since = now;
}

static void end_phases(rp_request_t *state)
{
    close_phase(state, apr_time_now());
    state->phase = RP_PHASE_NONE;
}

void rp_request_phases_now(rp_request_t *state,
                           rp_phase_span_t out[RP_PHASE_COUNT])
{
    if (state->state == RP_STATE_NONE) {
        end_phases(state);
        memcpy(out, state->phases, sizeof(state->phases));
        return;
    }
    /* Log mode: the profile's phases go on; the copy has the running phase
     * closed now. */
    memcpy(out, state->phases, sizeof(state->phases));
    if (state->phase != RP_PHASE_NONE) {
        out[state->phase].total_us += apr_time_now() - state->phase_since;
    }
}

static void enter_phase(request_rec *r, rp_phase_e phase)
{
    rp_request_t *state = rp_request_find(r);
    if (state == NULL || state->state == RP_STATE_FINISHED) {
        return;
    }
    apr_time_t now = apr_time_now();
    close_phase(state, now);
    if (state->phases[phase].first_us < 0) {
        state->phases[phase].first_us = now - state->request_time;
    }
    state->phase = phase;
    rp_sampler_set_tag(state->sampler, phase);
}

/* ---- sampling ------------------------------------------------------------ */

/* The profiled response is always the full one, made by running the
 * request: no 304 or 206 from the client's validators or ranges, and no
 * answer from mod_cache. */
static void ask_for_full_response(request_rec *r)
{
    static const char *const headers[] = {
        "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
        "If-Range", "Range"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        apr_table_unset(r->headers_in, headers[i]);
    }
    rp_cache_hide_for_handler(r);
}

static void release_slot(rp_request_t *state)
{
    if (state->counted) {
        __atomic_sub_fetch(&concurrent_profiles, 1, __ATOMIC_RELAXED);
        state->counted = 0;
    }
}

/* Takes one of the process's profile slots, or says why not: a triggered
 * request in a header, a logged one (whose response must not change) only
 * in the debug log. */
static int take_slot(request_rec *r, rp_request_t *state, int log_mode)
{
    /* A request asks once (post_read_request or fixups): refused, it stays
     * refused, and says so once. */
    int refusal = log_mode ? RP_SLOT_REFUSED_LOG : RP_SLOT_REFUSED_REPORT;
    if (state->slot_refused & refusal) {
        return 0;
    }
    unsigned max = (unsigned)rp_conf_max_concurrent(r->server);
    if (__atomic_add_fetch(&concurrent_profiles, 1, __ATOMIC_RELAXED) > max) {
        __atomic_sub_fetch(&concurrent_profiles, 1, __ATOMIC_RELAXED);
        state->slot_refused |= refusal;
        if (!log_mode) {
            apr_table_setn(r->err_headers_out, "X-ReqProfile",
                           "not profiled: ReqProfileMaxConcurrent reached");
        }
        ap_log_rerror(APLOG_MARK, log_mode ? APLOG_DEBUG : APLOG_INFO, 0, r,
                      RP_LOG_TAG "not profiled: %u profiles already running "
                                 "in this process (ReqProfileMaxConcurrent)",
                      max);
        return 0;
    }
    return 1;
}

void rp_request_finish(rp_request_t *state)
{
    rp_sampler_stop(state->sampler, state->session);
    end_phases(state);
    move_to(state, RP_STATE_FINISHED);
    release_slot(state);
}

static apr_status_t stop_on_request_end(void *data)
{
    rp_request_t *state = data;
    /* Normally the filter stopped it at end of stream; this covers requests
     * whose response never got there (aborted connections, early exits). */
    if (sampling(state) && !rp_process_exiting()) {
        rp_sampler_stop(state->sampler, state->session);
        rp_sampler_discard(state->sampler);
    }
    release_slot(state);
    return APR_SUCCESS;
}

static unsigned signal_taken_logged;

/* Code that ran after child_init (another module's child_init, a library
 * it loaded) replaced the sampler's handler: mod_reqprof leaves that
 * handler alone and profiles nothing more in this process. Said once per
 * process in the error log; a triggered request also says it in a header. */
static void signal_taken_at_start(request_rec *r, rp_log_mode_e log_mode)
{
    int signo = rp_conf_signal(r->server);
    if (log_mode == RP_LOG_OFF) {
        apr_table_setn(r->err_headers_out, "X-ReqProfile",
                       "not profiled: another handler took the sampling "
                       "signal (see the error log)");
    }
    int first =
        __atomic_exchange_n(&signal_taken_logged, 1, __ATOMIC_RELAXED) == 0;
    ap_log_rerror(APLOG_MARK, first ? APLOG_ERR : APLOG_DEBUG, 0, r,
                  RP_LOG_TAG
                  "profiling disabled in this process: another module or "
                  "library replaced mod_reqprof's handler of signal %s after "
                  "the process started; set ReqProfileSignal to a realtime "
                  "signal nothing else uses",
                  rp_process_signal_name(r->pool, signo));
}

/* Starts a session for a report in format (log_mode RP_LOG_OFF) or for log
 * mode (format RP_FORMAT_NONE; the response passes unchanged and a record
 * is logged), and moves to state to (tentative, report or log). */
static int start_sampling(request_rec *r, rp_request_t *state,
                          const rp_dir_conf_t *conf, rp_format_e format,
                          rp_log_mode_e log_mode, rp_state_e to)
{
    rp_sampler_t *sampler = rp_sampler_for_this_thread();
    if (sampler == NULL) {
        ap_log_rerror(APLOG_MARK, log_mode ? APLOG_DEBUG : APLOG_WARNING, 0, r,
                      RP_LOG_TAG "sampler unavailable in this process, "
                                 "serving the request unprofiled");
        return 0;
    }
    if (!state->counted && !take_slot(r, state, log_mode != RP_LOG_OFF)) {
        return 0;
    }
    state->counted = 1;
    /* A session still running on this thread belongs to an earlier request
     * whose response never reached the filter: that request is over. */
    rp_sampler_stop(sampler, rp_sampler_session(sampler));
    rp_sampler_set_limits(sampler, rp_conf_max_samples(conf),
                          rp_conf_max_duration(conf));
    uint64_t session;
    apr_status_t rv = rp_sampler_start(sampler, rp_conf_clock(conf),
                                       rp_conf_interval(conf), &session);
    if (rv == RP_SAMPLER_SIGNAL_TAKEN) {
        signal_taken_at_start(r, log_mode);
        release_slot(state);
        return 0;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RP_LOG_TAG "cannot start sampling, serving the request "
                                 "unprofiled");
        release_slot(state);
        return 0;
    }
    state->sampler = sampler;
    state->session = session;
    state->clock = rp_conf_clock(conf);
    state->interval_us = rp_conf_interval(conf);
    state->started = apr_time_now();
    state->format = format;
    state->log_mode = log_mode;
    state->log_slow_us = rp_conf_log_slow(conf);
    move_to(state, to);
    rp_sampler_set_tag(sampler, state->phase);
    if (!state->cleanup_registered) {
        apr_pool_cleanup_register(r->pool, state, stop_on_request_end,
                                  apr_pool_cleanup_null);
        state->cleanup_registered = 1;
    }
    return 1;
}

/* The per-directory configuration (or an error before it was read) said
 * no to a session started early: the request goes on unprofiled. */
static void cancel_sampling(rp_request_t *state)
{
    rp_sampler_stop(state->sampler, state->session);
    rp_sampler_discard(state->sampler);
    state->sampler = NULL;
    move_to(state, RP_STATE_NONE);
    release_slot(state);
}

/* ---- log mode ------------------------------------------------------------ */

static void remember_rate(rp_request_t *state, int counted_rate, int chosen)
{
    state->rate_counted = 1;
    state->rate_of_count = counted_rate;
    state->rate_chosen = chosen;
}

/* 1 in N (ReqProfileSampleRate) of the requests log mode would profile, by
 * a per-process count: the first of every N. A request is counted once
 * (state, when there is one yet, remembers the decision), unless its
 * directory samples at another rate than the server's decision was made
 * with. *counted_rate receives the rate of a new count, else 0. */
static int rate_chosen(rp_request_t *state, const rp_dir_conf_t *conf,
                       int *counted_rate, int *chosen)
{
    unsigned rate = rp_conf_sample_rate(conf);
    if (state != NULL && state->rate_counted &&
        (unsigned)state->rate_of_count == rate) {
        return state->rate_chosen;
    }
    *counted_rate = (int)rate;
    *chosen = rate <= 1 ||
              __atomic_fetch_add(&log_counter, 1, __ATOMIC_RELAXED) % rate == 0;
    if (state != NULL) {
        remember_rate(state, *counted_rate, *chosen);
    }
    return *chosen;
}

/* ---- hooks --------------------------------------------------------------- */

/* First thing after the request line and headers are read: if the server's
 * own configuration profiles this request (a trigger, or log mode), start
 * now, so the phases before the handler are sampled too. */
static RP_OUT_OF_LINE int start_early(request_rec *r)
{
    if (r->main == NULL && rp_request_find(r) == NULL) {
        const rp_dir_conf_t *conf = rp_dir_conf(r); /* server level, here */
        rp_decision_t d = rp_decide(r, conf, RP_DECIDE_EARLY);
        int counted_rate = 0, chosen = 0;
        if (d.log) {
            rate_chosen(NULL, conf, &counted_rate, &chosen);
        }
        if (d.report != RP_FORMAT_NONE || d.log || d.store ||
            rp_conf_server_timing(r->server)) {
            rp_request_t *state = create_state(r);
            if (d.log) {
                remember_rate(state, counted_rate, chosen);
            }
            if (d.report != RP_FORMAT_NONE) {
                start_sampling(r, state, conf, d.report, RP_LOG_OFF,
                               RP_STATE_TENTATIVE);
            } else if (d.store) {
                start_sampling(r, state, conf, RP_FORMAT_NONE, RP_LOG_STORE,
                               RP_STATE_TENTATIVE);
            } else if (d.log && chosen) {
                start_sampling(r, state, conf, RP_FORMAT_NONE,
                               rp_conf_log_mode(conf), RP_STATE_TENTATIVE);
            }
        }
    }
    enter_phase(r, RP_PHASE_POST_READ_REQUEST);
    return DECLINED;
}

static RP_OUT_OF_LINE int start_early_if_query_may_trigger(request_rec *r)
{
    return rp_conf_query_may_trigger(r->args) ? start_early(r) : DECLINED;
}

/* Most requests cannot be profiled from their start: no query that may
 * name a trigger, no store header to a server with a store, no log mode or
 * Server-Timing in the server's configuration. Such a request gets no
 * state, so its phase marks have nothing to mark either. The tests that
 * need no call come first: a request without a query leaves at once. (A
 * request just read has no state yet, nor a predecessor.) */
static RP_HOOK_GATE int reqprof_post_read_request(request_rec *r)
{
    if (!rp_conf_requests_wanted()) {
        return DECLINED;
    }
    if (rp_conf_server_timing(r->server) ||
        rp_decide_asked_without_query(r, rp_dir_conf(r))) {
        return start_early(r);
    }
    return r->args != NULL ? start_early_if_query_may_trigger(r) : DECLINED;
}

static int same_sampling(const rp_request_t *state, const rp_dir_conf_t *conf)
{
    return state->clock == rp_conf_clock(conf) &&
           state->interval_us == rp_conf_interval(conf);
}

/* A stored request says where its profile will be, before its response
 * starts: the id, the index's link, and the total so far in Server-Timing
 * (err_headers_out: error responses and redirects keep them). */
static void announce_store(request_rec *r, rp_request_t *state)
{
    const char *id = rp_request_id(r, state);
    apr_table_setn(r->err_headers_out, "X-ReqProfile-Id", id);
    const char *index = rp_conf_index_url(r->server);
    if (index != NULL) {
        apr_table_setn(r->err_headers_out, "X-ReqProfile-Url",
                       apr_pstrcat(r->pool, index,
                                   strchr(index, '?') ? "&" : "?", "view=", id,
                                   NULL));
    }
    state->server_timing = 1;
}

/* A session started early goes on as a report (format), stored
 * (RP_LOG_STORE) or in log mode. */
static void confirm_sampling(request_rec *r, rp_request_t *state,
                             const rp_dir_conf_t *conf, rp_format_e format,
                             rp_log_mode_e mode)
{
    state->format = format;
    if (format != RP_FORMAT_NONE) {
        state->log_mode = RP_LOG_OFF;
        move_to(state, RP_STATE_REPORT);
        ask_for_full_response(r);
    } else {
        state->log_mode = mode;
        state->log_slow_us = rp_conf_log_slow(conf);
        move_to(state, RP_STATE_LOG);
        if (mode == RP_LOG_STORE) {
            announce_store(r, state);
        }
    }
    rp_sampler_set_limits(state->sampler, rp_conf_max_samples(conf),
                          rp_conf_max_duration(conf));
}

static RP_OUT_OF_LINE int decide_final(request_rec *r)
{
    rp_request_t *state = rp_request_find(r);
    if (state != NULL &&
        ap_get_module_config(r->request_config, &reqprof_module) == NULL) {
        ap_set_module_config(r->request_config, &reqprof_module, state);
    }
    if (state != NULL && state->state != RP_STATE_NONE &&
        state->state != RP_STATE_TENTATIVE) {
        return DECLINED; /* decided for an earlier part of this request */
    }
    const rp_dir_conf_t *conf = rp_dir_conf(r);
    rp_decision_t d = rp_decide(r, conf, RP_DECIDE_FINAL);
    rp_format_e format = d.report;
    int log = d.log;
    int counted_rate = 0, chosen = 0;
    if (log) {
        log = rate_chosen(state, conf, &counted_rate, &chosen);
    }
    /* What a session that leaves the response alone does with the profile. */
    rp_log_mode_e mode = d.store ? RP_LOG_STORE : rp_conf_log_mode(conf);
    log = log || d.store;
    if (state != NULL && state->state == RP_STATE_TENTATIVE) {
        if ((format != RP_FORMAT_NONE || log) && same_sampling(state, conf)) {
            confirm_sampling(r, state, conf, format, mode);
            return DECLINED;
        }
        /* Refused, or this directory samples differently: the early
         * session ends, and a new one starts below if wanted. */
        cancel_sampling(state);
    }
    if (format == RP_FORMAT_NONE && !log) {
        return DECLINED;
    }
    if (state == NULL) {
        state = create_state(r);
        if (counted_rate > 0) {
            remember_rate(state, counted_rate, chosen);
        }
        enter_phase(r, RP_PHASE_FIXUPS);
    }
    if (format != RP_FORMAT_NONE) {
        if (start_sampling(r, state, conf, format, RP_LOG_OFF,
                           RP_STATE_REPORT)) {
            ask_for_full_response(r);
        }
    } else if (start_sampling(r, state, conf, RP_FORMAT_NONE, mode,
                              RP_STATE_LOG) &&
               mode == RP_LOG_STORE) {
        announce_store(r, state);
    }
    return DECLINED;
}

static RP_OUT_OF_LINE int decide_final_if_query_may_trigger(request_rec *r)
{
    return rp_conf_query_may_trigger(rp_client_query(r)) ? decide_final(r)
                                                         : DECLINED;
}

/* Runs last among fixups: per-directory configuration is final, access
 * checks have passed, and the handler is next. Most requests have no state,
 * and nothing in them or their context can ask: as at post_read_request,
 * the tests that need no call come first. */
static RP_HOOK_GATE int reqprof_fixups(request_rec *r)
{
    if (r->main != NULL || !rp_conf_requests_wanted()) {
        return DECLINED;
    }
    if (rp_request_maybe(r) ||
        rp_decide_asked_without_query(r, rp_dir_conf(r))) {
        return decide_final(r);
    }
    return rp_client_query(r) != NULL ? decide_final_if_query_may_trigger(r)
                                      : DECLINED;
}

rp_request_t *rp_request_settle(request_rec *r)
{
    rp_request_t *state = rp_request_find(r);
    if (rp_cache_answering(r) && state != NULL &&
        state->state == RP_STATE_TENTATIVE && state->format != RP_FORMAT_NONE &&
        rp_client_allowed(r, rp_dir_conf(r))) {
        apr_table_setn(r->err_headers_out, "X-ReqProfile",
                       "not profiled: answered by mod_cache, which ignores "
                       "the request's Cache-Control");
    }
    if (state == NULL) {
        return NULL;
    }
    if (state->state == RP_STATE_TENTATIVE) {
        /* An error response before fixups: never confirmed. A report is not
         * made (access was not granted); log mode logs it if the context
         * says so. */
        const rp_dir_conf_t *conf = rp_dir_conf(r);
        /* A stored request's error response is stored too: the client
         * asked, and the default rule admitted it. */
        int keep = state->log_mode == RP_LOG_STORE ||
                   (state->log_mode != RP_LOG_OFF && rp_decide_log(r, conf));
        if (keep && same_sampling(state, conf)) {
            confirm_sampling(r, state, conf, RP_FORMAT_NONE, state->log_mode);
        } else {
            cancel_sampling(state);
        }
    }
    return state;
}

/* The phase marks share one body: each hook is a jump into it, so that the
 * marks a request runs through sit in a few cache lines of code. A request
 * has a state only where requests are wanted (start_early and decide_final
 * ask), so the state alone is asked here. */
static RP_OUT_OF_LINE RP_HOOK_GATE int mark_phase(request_rec *r,
                                                  rp_phase_e phase)
{
    if (rp_request_maybe(r)) {
        enter_phase(r, phase);
    }
    return DECLINED;
}

#define PHASE_MARK(hook, phase)                                                \
    static RP_HOOK_GATE int mark_##hook(request_rec *r)                        \
    {                                                                          \
        return mark_phase(r, phase);                                           \
    }
PHASE_MARK(translate_name, RP_PHASE_TRANSLATE_NAME)
PHASE_MARK(map_to_storage, RP_PHASE_MAP_TO_STORAGE)
PHASE_MARK(header_parser, RP_PHASE_HEADER_PARSER)
PHASE_MARK(access_checker, RP_PHASE_ACCESS_CHECKER)
PHASE_MARK(check_user_id, RP_PHASE_CHECK_USER_ID)
PHASE_MARK(auth_checker, RP_PHASE_AUTH_CHECKER)
PHASE_MARK(type_checker, RP_PHASE_TYPE_CHECKER)
PHASE_MARK(fixups, RP_PHASE_FIXUPS)
PHASE_MARK(handler, RP_PHASE_HANDLER)

void rp_request_register_request_hooks(void)
{
    /* After mod_remoteip: the default rule judges the real client. */
    static const char *const remoteip[] = {"mod_remoteip.c", NULL};
    ap_hook_post_read_request(reqprof_post_read_request, remoteip, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_translate_name(mark_translate_name, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_map_to_storage(mark_map_to_storage, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_header_parser(mark_header_parser, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
    ap_hook_access_checker(mark_access_checker, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_check_user_id(mark_check_user_id, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
    ap_hook_auth_checker(mark_auth_checker, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_type_checker(mark_type_checker, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(mark_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(reqprof_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_handler(mark_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
