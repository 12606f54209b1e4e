/* mod_reqprof's log mode and saved profiles.
 *
 * At the end of a response profiled in log mode (ReqProfileLog), the
 * profile is built on the request's thread; once the response is out
 * (log_transaction, when httpd has written it), a one-line logfmt record
 * goes to the error log or ReqProfileLogFile, and, with ReqProfileDir, the
 * profile is saved as files (rp_store): the HTML report, a speedscope file
 * and a sidecar. A triggered report is saved the same way. Failures to save
 * or to log are reported in the error log, at most once a minute per
 * process; the request is never affected. */
#include "mod_reqprof_log.h"

#include "mod_reqprof_config.h"
#include "mod_reqprof_capture.h"
#include "mod_reqprof_process.h"
#include "mod_reqprof_store.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <unistd.h>

#include "rp_stacks.h"
#include "rp_buf.h"
#include "rp_format.h"
#include "rp_record.h"
#include "rp_store.h"

APLOG_USE_MODULE(reqprof);

/* Failures of one kind are logged at most this often per process. */
#define ERROR_INTERVAL apr_time_from_sec(60)

/* A request's profile, built at the response's end and logged and saved by
 * log_transaction, when the response is out. */
struct rp_log_kept {
    int pending;
    apr_time_t ended;
    apr_interval_time_t build_us; /* building it took, on the response's path */
    rp_profile_t *profile;
    /* A triggered report as it went out: saved as it is if its format is
     * one ReqProfileDir keeps. */
    rp_format_e report_format;
    const char *report_body;
    apr_size_t report_len;
};

static struct rp_log_kept *kept_of(request_rec *r, rp_request_t *state)
{
    struct rp_log_kept *kept = rp_request_log_data(state);
    if (kept == NULL) {
        kept = apr_pcalloc(r->pool, sizeof(*kept));
        rp_request_set_log_data(state, kept);
    }
    return kept;
}

/* ---- rate-limited errors ------------------------------------------------- */

typedef struct error_gate {
    apr_time_t last;     /* when one was last logged */
    unsigned suppressed; /* since then */
} error_gate_t;

static error_gate_t write_errors;

/* Whether to log this failure now; *suppressed receives how many were kept
 * quiet since the last one logged. */
static int gate_open(error_gate_t *gate, unsigned *suppressed)
{
    apr_time_t now = apr_time_now();
    apr_time_t last = __atomic_load_n(&gate->last, __ATOMIC_RELAXED);
    if (last != 0 && now - last < ERROR_INTERVAL) {
        __atomic_add_fetch(&gate->suppressed, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (!__atomic_compare_exchange_n(&gate->last, &last, now, 0,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&gate->suppressed, 1, __ATOMIC_RELAXED);
        return 0;
    }
    *suppressed = __atomic_exchange_n(&gate->suppressed, 0, __ATOMIC_RELAXED);
    return 1;
}

/* ---- the log file -------------------------------------------------------- */

static int open_log_files(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    apr_hash_t *opened = apr_hash_make(ptemp);
    for (server_rec *vs = s; vs != NULL; vs = vs->next) {
        const char *log_file = rp_conf_log_file(vs);
        rp_conf_set_log_fd(vs, NULL);
        if (log_file == NULL) {
            continue;
        }
        apr_file_t *fd = apr_hash_get(opened, log_file, APR_HASH_KEY_STRING);
        if (fd == NULL) {
            /* Like CustomLog: opened by the parent, inherited by every
             * child. Unbuffered and O_APPEND: each record is one write(2)
             * at the end of the file, whatever other writers do. */
            apr_status_t rv =
                apr_file_open(&fd, log_file,
                              APR_FOPEN_WRITE | APR_FOPEN_APPEND |
                                  APR_FOPEN_CREATE | APR_FOPEN_LARGEFILE,
                              APR_FPROT_OS_DEFAULT, pconf);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, rv, s,
                             RP_LOG_TAG "ReqProfileLogFile: cannot open %s",
                             log_file);
                return DONE;
            }
            apr_hash_set(opened, log_file, APR_HASH_KEY_STRING, fd);
        }
        rp_conf_set_log_fd(vs, fd);
    }
    return OK;
}

/* One record, one write: concurrent writers never interleave. */
static void write_record(request_rec *r, const char *line, apr_size_t len)
{
    apr_file_t *log_fd = rp_conf_log_fd(r->server);
    if (log_fd == NULL) {
        /* Logged for the server, not the request: the error log would add
         * ", referer: ..." after the record. */
        ap_log_error(APLOG_MARK, rp_conf_log_level(r->server), 0, r->server,
                     "%s", line);
        return;
    }
    char *out = apr_palloc(r->pool, len + 1);
    memcpy(out, line, len);
    out[len] = '\n';
    apr_size_t n = len + 1;
    apr_status_t rv = apr_file_write(log_fd, out, &n);
    if (rv == APR_SUCCESS && n != len + 1) {
        rv = APR_EGENERAL;
    }
    unsigned suppressed;
    if (rv != APR_SUCCESS && gate_open(&write_errors, &suppressed)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RP_LOG_TAG "ReqProfileLogFile %s: cannot write a record "
                                 "(%u more failures since the last message)",
                      rp_conf_log_file(r->server), suppressed);
    }
}

/* ---- building and keeping ------------------------------------------------ */

void rp_log_capture(request_rec *r, rp_request_t *state, apr_time_t ended)
{
    if (rp_request_fast_enough(state, ended)) {
        rp_sampler_discard(rp_request_sampler(state));
        return; /* fast enough: nothing kept */
    }
    apr_time_t start = apr_time_now();
    apr_pool_t *pool;
    apr_pool_create(&pool, r->pool);
    apr_pool_tag(pool, "reqprof_log");
    rp_profile_t *p = rp_capture(r, state, 0, pool);
    struct rp_log_kept *kept = kept_of(r, state);
    kept->profile = p;
    kept->ended = ended;
    kept->pending = 1;
    kept->build_us = apr_time_now() - start;
}

void rp_log_keep_report(request_rec *r, rp_request_t *state,
                        rp_profile_t *profile, rp_format_e format,
                        const char *body, apr_size_t len)
{
    struct rp_log_kept *kept = kept_of(r, state);
    kept->profile = apr_pmemdup(r->pool, profile, sizeof(*profile));
    kept->report_format = format;
    kept->report_body = body;
    kept->report_len = len;
    kept->ended = apr_time_now();
    kept->pending = 1;
}

/* ---- saving -------------------------------------------------------------- */

/* Saves the profile as id to the server's store (rp_storage). */
static int save_profile(request_rec *r, const struct rp_log_kept *kept,
                        const char *id, const rp_record_info_t *info)
{
    apr_time_t start = apr_time_now();
    apr_pool_t *pool;
    apr_pool_create(&pool, r->pool);
    apr_pool_tag(pool, "reqprof_save");
    const rp_profile_t *p = kept->profile;
    /* Each format the table saves (the report that went out as it is),
     * then the sidecar. */
    int count, n = 0;
    const rp_format_t *formats = rp_formats(&count);
    rp_store_file_t *files = apr_pcalloc(pool, sizeof(*files) * (count + 2));
    for (int i = 0; i < count; i++) {
        const rp_format_t *fmt = &formats[i];
        if (fmt->saved_suffix == NULL) {
            continue;
        }
        files[n].suffix = fmt->saved_suffix;
        if (kept->report_body != NULL && kept->report_format == fmt->id) {
            files[n].data = kept->report_body;
            files[n].len = kept->report_len;
        } else {
            files[n].data = rp_format_render(fmt, p, 0, pool, &files[n].len);
        }
        n++;
    }
    /* The stacks a route's merged flame graph is summed from. */
    files[n].suffix = RP_STORE_STACKS;
    files[n].data = rp_stacks_render(p, pool, &files[n].len);
    n++;
    files[n].suffix = RP_STORE_META;
    files[n].data = rp_record_sidecar(p, info, pool, &files[n].len);
    n++;
    int saved = rp_storage_save(r, id, p->request_started, files, n);
    if (saved) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RP_LOG_TAG "saved profile %s to %s in %.3f ms; building "
                                 "it took %.3f ms",
                      id, rp_pstore_name(rp_storage_of(r)),
                      (double)(apr_time_now() - start) / 1000.0,
                      (double)kept->build_us / 1000.0);
    }
    apr_pool_destroy(pool);
    return saved;
}

/* The request whose state holds the profile: log_transaction gets the
 * first of an internal redirect's chain. */
static rp_request_t *pending_state(request_rec *r)
{
    request_rec *last = r;
    while (last->next != NULL) {
        last = last->next;
    }
    rp_request_t *state = rp_request_find(last);
    const struct rp_log_kept *kept =
        state != NULL ? rp_request_log_data(state) : NULL;
    return kept != NULL && kept->pending ? state : NULL;
}

/* The group (route) of the request: ReqProfileGroup evaluated where the
 * request was handled (the last of an internal redirect's chain), or its
 * method and path. */
static const char *group_of(request_rec *r, const rp_profile_t *p)
{
    request_rec *last = r;
    while (last->next != NULL) {
        last = last->next;
    }
    const ap_expr_info_t *expr = rp_conf_group(rp_dir_conf(last));
    const char *text = NULL;
    if (expr != NULL) {
        const char *err = NULL;
        text = ap_expr_str_exec(last, expr, &err);
        if (err != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, last,
                          RP_LOG_TAG "ReqProfileGroup failed, the method and "
                                     "path stand in: %s",
                          err);
            text = NULL;
        }
    }
    if (text == NULL || *text == '\0') {
        const char *uri = p->uri ? p->uri : "";
        text =
            apr_pstrcat(r->pool, p->method ? p->method : "", " ",
                        apr_pstrmemdup(r->pool, uri, strcspn(uri, "?")), NULL);
    }
    return rp_record_group(text, r->pool);
}

static RP_OUT_OF_LINE int log_profile(request_rec *r)
{
    rp_request_t *state = pending_state(r);
    if (state == NULL) {
        return DECLINED;
    }
    struct rp_log_kept *kept = rp_request_log_data(state);
    kept->pending = 0;
    /* By now httpd knows whether the client got the whole response: it
     * stayed to the end, or a write failed (its %X says X). */
    kept->profile->aborted = r->connection->aborted;
    rp_exit_hold_t signals;
    rp_request_exit_signals_hold(&signals); /* rendering is malloc-heavy */
    rp_log_mode_e mode = rp_request_log_mode(state);
    const char *id = rp_request_id(r, state);
    rp_record_info_t info = {.id = id,
                             .mode = mode == RP_LOG_SLOW    ? "slow"
                                     : mode == RP_LOG_ON    ? "log"
                                     : mode == RP_LOG_STORE ? "store"
                                                            : "trigger",
                             .ended = kept->ended,
                             .server = r->server->server_hostname,
                             .node = rp_process_node(),
                             .trace = rp_request_trace(state),
                             .group = group_of(r, kept->profile)};
    rp_pstore_t *store = rp_storage_of(r);
    int saved = 0;
    apr_time_t save_start = apr_time_now();
    if (store != NULL) {
        saved = save_profile(r, kept, id, &info);
    }
    apr_interval_time_t save_us = apr_time_now() - save_start;
    /* A stored request is logged too where its context logs requests. */
    if (mode == RP_LOG_ON || mode == RP_LOG_SLOW ||
        (mode == RP_LOG_STORE &&
         rp_conf_log_mode(rp_dir_conf(r)) != RP_LOG_OFF)) {
        rp_buf_t line;
        rp_buf_init(&line, r->pool, 2048);
        rp_record_line(&line, kept->profile, &info);
        if (store != NULL) {
            rp_buf_printf(&line, " saved=%d save_ms=%.3f", saved,
                          (double)save_us / 1000.0);
        }
        write_record(r, line.data, line.len);
    }
    kept->profile = NULL;
    kept->report_body = NULL;
    rp_request_exit_signals_restore(&signals);
    return DECLINED;
}

static RP_HOOK_GATE int log_transaction(request_rec *r)
{
    if (!rp_conf_requests_wanted() ||
        (r->next == NULL && !rp_request_maybe(r))) {
        return DECLINED; /* most requests: no state */
    }
    return log_profile(r);
}

void rp_log_register(void)
{
    ap_hook_open_logs(open_log_files, NULL, NULL, APR_HOOK_MIDDLE);
}

void rp_log_register_request_hooks(void)
{
    ap_hook_log_transaction(log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
}
