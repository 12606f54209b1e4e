/* mod_reqprof's output filters.
 *
 * REQPROF swallows a profiled request's body as it streams and, at end of
 * stream, replaces the response with the report in the format asked for.
 * REQPROF_LOG passes a response profiled in log mode through untouched and,
 * at end of stream, stops sampling and hands the profile to
 * mod_reqprof_log.c. REQPROF_TIMING adds a Server-Timing header to a
 * response that is not replaced by a report, when ReqProfileServerTiming is
 * on. */
#include "mod_reqprof_output.h"

#include "mod_reqprof_cache.h"
#include "mod_reqprof_capture.h"
#include "mod_reqprof_config.h"
#include "mod_reqprof_decide.h"
#include "mod_reqprof_log.h"
#include "mod_reqprof_store.h"
#include "mod_reqprof_process.h"
#include "mod_reqprof_request.h"

#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include <apr_strings.h>
#include <unistd.h>

#include "rp_format.h"
#include "rp_trigger.h"

static ap_filter_rec_t *profile_filter_handle;
static ap_filter_rec_t *log_filter_handle;
static ap_filter_rec_t *timing_filter_handle;

/* The format of a report (HTML when the state names none). */
static const rp_format_t *format_of(rp_format_e format)
{
    const rp_format_t *fmt = rp_format_get(format);
    return fmt != NULL ? fmt : rp_format_get(RP_FORMAT_HTML);
}

/* ---- the report --------------------------------------------------------- */

static const char *download_name(request_rec *r, const rp_format_t *fmt)
{
    apr_time_exp_t t;
    char stamp[32];
    apr_size_t len;
    apr_time_exp_gmt(&t, apr_time_now());
    apr_strftime(stamp, &len, sizeof(stamp), "%Y%m%dT%H%M%SZ", &t);
    return apr_psprintf(r->pool, "attachment; filename=\"reqprof-%ld-%s.%s\"",
                        (long)getpid(), stamp, fmt->extension);
}

/* The report replaces the response: nothing of the original's framing,
 * validators or encoding may survive, and nobody may cache it. */
static void set_report_headers(request_rec *r, const rp_format_t *fmt,
                               apr_size_t length)
{
    static const char *const dropped[] = {"Content-Length",
                                          "ETag",
                                          "Last-Modified",
                                          "Content-MD5",
                                          "Content-Encoding",
                                          "Content-Range",
                                          "Content-Location",
                                          "Content-Disposition",
                                          "Content-Language",
                                          "Location",
                                          "Expires",
                                          "Refresh",
                                          "Cache-Control",
                                          "Accept-Ranges",
                                          "Content-Security-Policy",
                                          "X-ReqProfile"};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
        apr_table_unset(r->headers_out, dropped[i]);
        apr_table_unset(r->err_headers_out, dropped[i]);
    }
    r->status = HTTP_OK;
    r->status_line = NULL;
    /* Never stored by mod_cache, whatever its configuration says about
     * Cache-Control: no-store. */
    r->no_cache = 1;
    r->content_encoding = NULL;
    r->content_languages = NULL;
    ap_set_content_type(r, fmt->content_type);
    ap_set_content_length(r, (apr_off_t)length);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Accept-Ranges", "none");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (fmt->extension != NULL) {
        apr_table_setn(r->headers_out, "Content-Disposition",
                       download_name(r, fmt));
    }
    if (fmt->csp != NULL) {
        apr_table_setn(r->headers_out, "Content-Security-Policy", fmt->csp);
    }
}

static apr_status_t send_report(ap_filter_t *f, rp_request_t *state,
                                apr_off_t discarded_bytes)
{
    request_rec *r = f->r;
    rp_request_finish(state);

    const rp_format_t *fmt = format_of(rp_request_format(state));
    apr_pool_t *scratch;
    apr_pool_create(&scratch, r->pool);
    apr_pool_tag(scratch, "reqprof_report");
    rp_profile_t *profile = rp_capture(r, state, discarded_bytes, scratch);
    rp_exit_hold_t signals;
    rp_request_exit_signals_hold(&signals); /* rendering is malloc-heavy */
    apr_size_t length;
    const char *body = rp_format_render(
        fmt, profile, rp_trigger_all_frames(rp_client_query(r)), r->pool,
        &length);
    rp_request_exit_signals_restore(&signals);
    if (rp_storage_of(r) != NULL) {
        /* Saved once the response is out (log_transaction); the tree lives
         * until then in scratch, freed with the request. */
        rp_log_keep_report(r, state, profile, fmt->id, body, length);
    } else {
        apr_pool_destroy(scratch);
    }

    set_report_headers(r, fmt, length);
    apr_bucket_brigade *out = apr_brigade_create(r->pool, f->c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(
        out, apr_bucket_pool_create(body, length, r->pool, f->c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(f->c->bucket_alloc));
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, out);
}

/* The original body's bytes swallowed so far, over an internal redirect's
 * requests too (they share the pool). */
#define DISCARDED_KEY "mod_reqprof.discarded"
static apr_off_t *discarded_count(ap_filter_t *f)
{
    if (f->ctx == NULL) {
        apr_pool_userdata_get(&f->ctx, DISCARDED_KEY, f->r->pool);
        if (f->ctx == NULL) {
            f->ctx = apr_pcalloc(f->r->pool, sizeof(apr_off_t));
            apr_pool_userdata_setn(f->ctx, DISCARDED_KEY, NULL, f->r->pool);
        }
    }
    return f->ctx;
}

/* Swallows the original body as it streams, never holding more than one
 * brigade of it, and sends the report at end of stream. */
static apr_status_t profile_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    rp_request_t *state = rp_request_find(f->r);
    if (state == NULL || rp_request_state(state) != RP_STATE_REPORT) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    apr_off_t *discarded = discarded_count(f);
    int seen_eos = 0;
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_EOS(b)) {
            seen_eos = 1;
        } else if (!APR_BUCKET_IS_METADATA(b)) {
            const char *data;
            apr_size_t len = b->length;
            /* Pipes and sockets (CGI, proxy) have no length until read. */
            if (len == (apr_size_t)-1 &&
                apr_bucket_read(b, &data, &len, APR_BLOCK_READ) !=
                    APR_SUCCESS) {
                len = 0;
            }
            *discarded += (apr_off_t)len;
        }
        apr_bucket_delete(b);
    }
    return seen_eos ? send_report(f, state, *discarded) : APR_SUCCESS;
}

/* ---- log mode ------------------------------------------------------------ */

/* Passes everything through; at end of stream, sampling stops and the
 * profile is built (on this thread, whose sampler holds the samples), once
 * the brigade has gone on. */
static apr_status_t log_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    rp_request_t *state = rp_request_find(f->r);
    if (state == NULL || rp_request_state(state) != RP_STATE_LOG) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    int seen_eos = 0;
    for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b)) {
            seen_eos = 1;
            break;
        }
    }
    if (!seen_eos) {
        return ap_pass_brigade(f->next, bb);
    }
    rp_request_finish(state);
    apr_time_t ended = apr_time_now();
    request_rec *r = f->r;
    ap_remove_output_filter(f);
    apr_status_t rv = ap_pass_brigade(f->next, bb);
    rp_log_capture(r, state, ended);
    return rv;
}

/* ---- Server-Timing ------------------------------------------------------- */

/* "post_read_request;dur=0.012, ..., handler;dur=3.100": the phases so far,
 * the handler's up to its first output (when the headers leave). */
static const char *server_timing_value(request_rec *r, rp_request_t *state)
{
    rp_phase_span_t phases[RP_PHASE_COUNT];
    rp_request_phases_now(state, phases);
    const char *value = NULL;
    for (int i = 1; i < RP_PHASE_COUNT; i++) {
        if (phases[i].first_us < 0) {
            continue;
        }
        const char *item =
            apr_psprintf(r->pool, "%s;dur=%.3f", rp_phase_name((unsigned)i),
                         (double)phases[i].total_us / 1000.0);
        value = value ? apr_pstrcat(r->pool, value, ", ", item, NULL) : item;
    }
    if (rp_request_log_mode(state) == RP_LOG_STORE) {
        /* A stored request: the whole time so far, as the API client's
         * developer tools show it beside the stored profile's link. */
        const char *total = apr_psprintf(
            r->pool, "total;dur=%.3f",
            (double)(apr_time_now() - rp_request_time(state)) / 1000.0);
        value = value ? apr_pstrcat(r->pool, value, ", ", total, NULL) : total;
    }
    return value;
}

static apr_status_t timing_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    rp_request_t *state = rp_request_find(f->r);
    if (state != NULL && !rp_request_replaced(state)) {
        const char *value = server_timing_value(f->r, state);
        if (value != NULL) {
            apr_table_mergen(f->r->headers_out, "Server-Timing", value);
        }
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* ---- registration -------------------------------------------------------- */

static int filter_already_added(const request_rec *r, ap_filter_rec_t *frec)
{
    for (ap_filter_t *f = r->output_filters; f != NULL; f = f->next) {
        if (f->frec == frec) {
            return 1;
        }
    }
    return 0;
}

static void add_once(request_rec *r, ap_filter_rec_t *frec)
{
    if (!filter_already_added(r, frec)) {
        ap_add_output_filter_handle(frec, NULL, r, r->connection);
    }
}

static RP_OUT_OF_LINE void add_filters(request_rec *r)
{
    rp_request_t *state = rp_request_settle(r);
    if (state == NULL || rp_request_state(state) == RP_STATE_FINISHED) {
        return;
    }
    if (rp_request_state(state) == RP_STATE_REPORT) {
        add_once(r, profile_filter_handle);
        return;
    }
    if (rp_request_state(state) == RP_STATE_LOG) {
        add_once(r, log_filter_handle);
    }
    if (rp_request_server_timing(state)) {
        add_once(r, timing_filter_handle);
    }
}

/* insert_filter and insert_error_filter: the request's state settled,
 * the filters it needs, if any, once. */
static RP_HOOK_GATE void insert_filters(request_rec *r)
{
    /* Most requests have no state, and no mask to lift. */
    if (!rp_conf_requests_wanted() ||
        (!rp_request_maybe(r) && !rp_cache_may_be_masked(r))) {
        return;
    }
    add_filters(r);
}

void rp_output_register_request_hooks(void)
{
    ap_hook_insert_filter(insert_filters, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(insert_filters, NULL, NULL, APR_HOOK_MIDDLE);
}

void rp_output_register(void)
{
    /* Before mod_deflate and CACHE_SAVE: the report is what gets compressed,
     * and the original body is never cached under the report's name. */
    profile_filter_handle = ap_register_output_filter(
        "REQPROF", profile_filter, NULL, AP_FTYPE_CONTENT_SET - 1);
    log_filter_handle = ap_register_output_filter(
        "REQPROF_LOG", log_filter, NULL, AP_FTYPE_CONTENT_SET - 1);
    timing_filter_handle = ap_register_output_filter(
        "REQPROF_TIMING", timing_filter, NULL, AP_FTYPE_CONTENT_SET - 1);
}
