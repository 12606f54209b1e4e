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

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <unistd.h>

#include "rp_buf.h"
#include "rp_format.h"
#include "rp_record.h"
#include "rp_store.h"

APLOG_USE_MODULE(reqprof);

/* Failures of one kind are logged at most this often per process. */
#define ERROR_INTERVAL apr_time_from_sec(60)

/* Profile ids made by this process. */
static unsigned id_sequence;

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

static error_gate_t save_errors, write_errors;

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

static void check_dirs(apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return; /* the first of the two passes at startup: say it once */
    }
    for (server_rec *vs = s; vs != NULL; vs = vs->next) {
        const char *dir = rp_conf_dir(vs);
        if (dir == NULL || (vs != s && dir == rp_conf_dir(s))) {
            continue;
        }
        apr_finfo_t fi;
        apr_status_t rv = apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp);
        if (rv != APR_SUCCESS || fi.filetype != APR_DIR) {
            ap_log_error(APLOG_MARK, APLOG_WARNING,
                         rv != APR_SUCCESS ? rv : APR_ENOTDIR, vs,
                         RP_LOG_TAG "ReqProfileDir %s is not a directory: "
                                    "profiles will not be saved until it is "
                                    "one, writable by the server's User",
                         dir);
        }
    }
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

/* Saves the profile as id in ReqProfileDir and applies the limits. */
static int save_profile(request_rec *r, const struct rp_log_kept *kept,
                        const char *dir, const char *id,
                        const rp_record_info_t *info)
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
    rp_store_file_t *files = apr_pcalloc(pool, sizeof(*files) * (count + 1));
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
    files[n].suffix = RP_STORE_META;
    files[n].data = rp_record_sidecar(p, info, pool, &files[n].len);
    n++;
    const char *failed = NULL;
    apr_status_t rv = rp_store_save(dir, id, files, n, pool, &failed);
    int removed = 0;
    if (rv == APR_SUCCESS) {
        int max_count;
        apr_off_t max_bytes;
        rp_conf_dir_limits(r->server, &max_count, &max_bytes);
        rv = rp_store_prune(dir, max_count, max_bytes, apr_time_now(), pool,
                            &removed);
        if (rv != APR_SUCCESS) {
            failed = dir;
        }
    }
    unsigned suppressed;
    if (rv != APR_SUCCESS && gate_open(&save_errors, &suppressed)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RP_LOG_TAG
                      "ReqProfileDir %s: cannot save profile %s (%s); the "
                      "directory must exist and be writable by the server's "
                      "User. Requests are served normally; %u more failures "
                      "since the last message",
                      dir, id, failed ? failed : dir, suppressed);
    } else if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RP_LOG_TAG "saved profile %s in %s in %.3f ms (%d old "
                                 "ones removed); building it took %.3f ms",
                      id, dir, (double)(apr_time_now() - start) / 1000.0,
                      removed, (double)kept->build_us / 1000.0);
    }
    apr_pool_destroy(pool);
    return rv == APR_SUCCESS;
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

static int log_transaction(request_rec *r)
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
    sigset_t signals;
    rp_exit_signals_hold(&signals); /* rendering is malloc-heavy */
    char id[RP_STORE_ID_MAX];
    rp_store_make_id(id, sizeof(id), rp_request_time(state), (long)getpid(),
                     __atomic_add_fetch(&id_sequence, 1, __ATOMIC_RELAXED));
    rp_record_info_t info = {
        .id = id,
        .mode = rp_request_log_mode(state) == RP_LOG_SLOW ? "slow"
                : rp_request_log_mode(state) == RP_LOG_ON ? "log"
                                                          : "trigger",
        .ended = kept->ended};
    const char *dir = rp_conf_dir(r->server);
    int saved = 0;
    apr_time_t save_start = apr_time_now();
    if (dir != NULL) {
        saved = save_profile(r, kept, dir, id, &info);
    }
    apr_interval_time_t save_us = apr_time_now() - save_start;
    if (rp_request_log_mode(state) != RP_LOG_OFF) {
        rp_buf_t line;
        rp_buf_init(&line, r->pool, 2048);
        rp_record_line(&line, kept->profile, &info);
        if (dir != NULL) {
            rp_buf_printf(&line, " saved=%d save_ms=%.3f", saved,
                          (double)save_us / 1000.0);
        }
        write_record(r, line.data, line.len);
    }
    kept->profile = NULL;
    kept->report_body = NULL;
    rp_exit_signals_restore(&signals);
    return DECLINED;
}

static int check_dirs_at_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    check_dirs(ptemp, s);
    return OK;
}

void rp_log_register(void)
{
    ap_hook_open_logs(open_log_files, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(check_dirs_at_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
}
