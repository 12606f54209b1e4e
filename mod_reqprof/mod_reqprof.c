/* mod_reqprof: profile one request on demand.
 *
 * With "ReqProfile On" in a context, a request whose query string carries
 * the trigger parameter (profile=1) is sampled while it is handled, and its
 * response body is replaced by a report of where the time went.
 *
 * This file is the httpd glue only: configuration, the hooks that start and
 * stop the sampler, and the output filter that swallows the original body.
 * Sampling, symbolization, the call tree and rendering live in the rp_*
 * files, which know nothing of httpd. */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "ap_mpm.h"
#include "util_filter.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rp_html.h"
#include "rp_interval.h"
#include "rp_profile.h"
#include "rp_sampler.h"
#include "rp_symbols.h"
#include "rp_trigger.h"

module AP_MODULE_DECLARE_DATA reqprof_module;

#define LOG_TAG "mod_reqprof: "
#define FILTER_NAME "REQPROF"
#define UNSET -1
#define DEFAULT_PARAM "profile"
/* Clear of SIGRTMIN itself, which mod_php's thread-safe build and other
 * runtimes take first. */
#define DEFAULT_SIGNAL_OFFSET 5
/* Per-thread sample buffer, mapped lazily: ~25 s of 40-deep stacks at 1ms. */
#define SAMPLE_ARENA_BYTES (8u * 1024 * 1024)

typedef struct {
    int enabled;
    apr_interval_time_t interval_us;
    int clock;
    const char *param;
    ap_expr_info_t *require; /* NULL: loopback clients only */
    int require_set;
} rp_dir_conf_t;

typedef struct {
    int signo; /* 0: SIGRTMIN + DEFAULT_SIGNAL_OFFSET */
} rp_server_conf_t;

/* One profiled request. Internal redirects and ErrorDocument share it, so
 * the whole request is one profile. */
typedef struct {
    rp_sampler_t *sampler;
    uint64_t session;
    rp_format_e format;
    int finished;
    apr_off_t discarded_bytes;
    apr_time_t started;
} rp_request_t;

static ap_filter_rec_t *profile_filter_handle;
static rp_symbols_t *process_symbols;

/* ---- configuration ---------------------------------------------------- */

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    (void)dir;
    rp_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->enabled = UNSET;
    c->interval_us = UNSET;
    c->clock = UNSET;
    return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *base_v, void *add_v)
{
    const rp_dir_conf_t *base = base_v;
    const rp_dir_conf_t *add = add_v;
    rp_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->enabled = add->enabled != UNSET ? add->enabled : base->enabled;
    c->interval_us =
        add->interval_us != UNSET ? add->interval_us : base->interval_us;
    c->clock = add->clock != UNSET ? add->clock : base->clock;
    c->param = add->param ? add->param : base->param;
    c->require_set = add->require_set || base->require_set;
    c->require = add->require_set ? add->require : base->require;
    return c;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return apr_pcalloc(p, sizeof(rp_server_conf_t));
}

static const char *set_enabled(cmd_parms *cmd, void *dconf, int on)
{
    (void)cmd;
    ((rp_dir_conf_t *)dconf)->enabled = on;
    return NULL;
}

static const char *set_interval(cmd_parms *cmd, void *dconf, const char *arg)
{
    apr_interval_time_t us;
    const char *err = rp_interval_parse(cmd->pool, arg, &us);
    if (err != NULL) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
    }
    ((rp_dir_conf_t *)dconf)->interval_us = us;
    return NULL;
}

static const char *set_clock(cmd_parms *cmd, void *dconf, const char *arg)
{
    rp_dir_conf_t *c = dconf;
    if (strcasecmp(arg, "wall") == 0) {
        c->clock = RP_CLOCK_WALL;
    } else if (strcasecmp(arg, "cpu") == 0) {
        c->clock = RP_CLOCK_CPU;
    } else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a clock: use wall or cpu",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_param(cmd_parms *cmd, void *dconf, const char *arg)
{
    size_t len = strlen(arg);
    if (len == 0 || len > 64 ||
        strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_.-") != len) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a usable parameter name: use 1 to "
                            "64 letters, digits, '_', '.' or '-'",
                            cmd->cmd->name, arg);
    }
    ((rp_dir_conf_t *)dconf)->param = arg;
    return NULL;
}

static const char *set_require(cmd_parms *cmd, void *dconf, const char *arg)
{
    rp_dir_conf_t *c = dconf;
    const char *err = NULL;
    c->require = ap_expr_parse_cmd(cmd, arg, 0, &err, NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: cannot parse expression '%s': %s",
                            cmd->cmd->name, arg, err);
    }
    c->require_set = 1;
    return NULL;
}

/* Accepts "40", "SIGRTMIN+6" or "RTMIN+6". */
static const char *set_signal(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    const char *p = arg;
    int base = 0;
    if (strncasecmp(p, "SIG", 3) == 0) {
        p += 3;
    }
    if (strncasecmp(p, "RTMIN", 5) == 0) {
        base = SIGRTMIN;
        p += 5;
        if (*p == '\0') {
            p = "+0";
        }
        if (*p != '+') {
            p = "";
        } else {
            p++;
        }
    }
    char *end = NULL;
    long n = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
    long signo = base + n;
    if (n < 0 || end == NULL || *end != '\0' || signo < SIGRTMIN ||
        signo > SIGRTMAX) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a realtime signal: use a number "
                            "from %d to %d, or SIGRTMIN+N",
                            cmd->cmd->name, arg, SIGRTMIN, SIGRTMAX);
    }
    rp_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &reqprof_module);
    sc->signo = (int)signo;
    return NULL;
}

static const command_rec reqprof_directives[] = {
    AP_INIT_FLAG("ReqProfile", set_enabled, NULL,
                 RSRC_CONF | ACCESS_CONF | OR_OPTIONS,
                 "On to allow profiling requests in this context"),
    AP_INIT_TAKE1("ReqProfileInterval", set_interval, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Sampling interval, 50us to 1s (default 1ms)"),
    AP_INIT_TAKE1("ReqProfileClock", set_clock, NULL, RSRC_CONF | ACCESS_CONF,
                  "wall (waiting counts, default) or cpu (on-CPU time only)"),
    AP_INIT_TAKE1("ReqProfileParam", set_param, NULL, RSRC_CONF | ACCESS_CONF,
                  "Query parameter that triggers profiling (default profile)"),
    AP_INIT_TAKE1("ReqProfileRequire", set_require, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Expression that must be true for the trigger to count "
                  "(default: loopback clients only)"),
    AP_INIT_TAKE1("ReqProfileSignal", set_signal, NULL, RSRC_CONF,
                  "Realtime signal used for sampling (default SIGRTMIN+5)"),
    {NULL}};

/* ---- deciding to profile ---------------------------------------------- */

static int client_is_loopback(const request_rec *r)
{
    const apr_sockaddr_t *sa = r->useragent_addr;
    if (sa == NULL) {
        return 0;
    }
    if (sa->family == AF_INET) {
        return (ntohl(sa->sa.sin.sin_addr.s_addr) >> 24) == 127;
    }
#if APR_HAVE_IPV6
    if (sa->family == AF_INET6) {
        const struct in6_addr *a = &sa->sa.sin6.sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
#endif
    return 0;
}

static int client_allowed(request_rec *r, const rp_dir_conf_t *conf)
{
    if (!conf->require_set) {
        return client_is_loopback(r);
    }
    const char *err = NULL;
    int rc = ap_expr_exec(r, conf->require, &err);
    if (rc < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LOG_TAG "ReqProfileRequire failed, not profiling: %s",
                      err ? err : "unknown error");
        return 0;
    }
    return rc;
}

static rp_request_t *request_state(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &reqprof_module);
}

/* An internal redirect or ErrorDocument continues the original request. */
static rp_request_t *state_of_earlier_request(const request_rec *r)
{
    for (const request_rec *prev = r->prev; prev != NULL; prev = prev->prev) {
        rp_request_t *state = request_state(prev);
        if (state != NULL) {
            return state;
        }
    }
    return NULL;
}

/* The profiled response is always the full one: no 304 or 206 from the
 * client's validators or ranges. */
static void strip_conditional_headers(request_rec *r)
{
    static const char *const headers[] = {
        "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
        "If-Range", "Range"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        apr_table_unset(r->headers_in, headers[i]);
    }
}

static apr_status_t stop_on_request_end(void *data)
{
    rp_request_t *state = data;
    /* Normally the filter stopped it at end of stream; this covers requests
     * whose response never got there (aborted connections, early exits). */
    if (!state->finished) {
        rp_sampler_stop(state->sampler, state->session);
        rp_sampler_discard(state->sampler);
    }
    return APR_SUCCESS;
}

static void start_profiling(request_rec *r, const rp_dir_conf_t *conf,
                            rp_format_e format)
{
    rp_sampler_t *sampler = rp_sampler_for_this_thread();
    if (sampler == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      LOG_TAG "sampler unavailable in this process, serving "
                              "the request unprofiled");
        return;
    }
    /* A session still running on this thread belongs to an earlier request
     * whose response never reached the filter: that request is over. */
    rp_sampler_stop(sampler, rp_sampler_session(sampler));
    apr_interval_time_t interval =
        conf->interval_us != UNSET ? conf->interval_us : RP_INTERVAL_DEFAULT_US;
    rp_clock_e clock = conf->clock != UNSET ? conf->clock : RP_CLOCK_WALL;
    uint64_t session;
    apr_status_t rv = rp_sampler_start(sampler, clock, interval, &session);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      LOG_TAG "cannot start sampling, serving the request "
                              "unprofiled");
        return;
    }
    rp_request_t *state = apr_pcalloc(r->pool, sizeof(*state));
    state->sampler = sampler;
    state->session = session;
    state->format = format;
    state->started = apr_time_now();
    ap_set_module_config(r->request_config, &reqprof_module, state);
    apr_pool_cleanup_register(r->pool, state, stop_on_request_end,
                              apr_pool_cleanup_null);
    strip_conditional_headers(r);
}

/* Runs last among fixups: per-directory configuration is final, access
 * checks have passed, and the handler is next. */
static int reqprof_fixups(request_rec *r)
{
    if (r->main != NULL || request_state(r) != NULL) {
        return DECLINED;
    }
    rp_request_t *earlier = state_of_earlier_request(r);
    if (earlier != NULL) {
        ap_set_module_config(r->request_config, &reqprof_module, earlier);
        return DECLINED;
    }
    const rp_dir_conf_t *conf =
        ap_get_module_config(r->per_dir_config, &reqprof_module);
    if (conf->enabled != 1 || process_symbols == NULL) {
        return DECLINED;
    }
    rp_format_e format =
        rp_trigger_find(r->args, conf->param ? conf->param : DEFAULT_PARAM);
    if (format == RP_FORMAT_NONE) {
        return DECLINED;
    }
    if (!client_allowed(r, conf)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      LOG_TAG "trigger ignored: ReqProfileRequire not met");
        return DECLINED;
    }
    start_profiling(r, conf, format);
    return DECLINED;
}

static int filter_already_added(const request_rec *r)
{
    for (ap_filter_t *f = r->output_filters; f != NULL; f = f->next) {
        if (f->frec == profile_filter_handle) {
            return 1;
        }
    }
    return 0;
}

static void reqprof_insert_filter(request_rec *r)
{
    const rp_request_t *state = request_state(r);
    if (state != NULL && !state->finished && !filter_already_added(r)) {
        ap_add_output_filter_handle(profile_filter_handle, NULL, r,
                                    r->connection);
    }
}

/* ---- the report ------------------------------------------------------- */

static void fill_profile(rp_profile_t *p, request_rec *r,
                         const rp_request_t *state)
{
    /* What the client asked for, even if an internal redirect or an
     * ErrorDocument produced the response. */
    const request_rec *initial = r;
    while (initial->prev != NULL) {
        initial = initial->prev;
    }
    p->method = initial->method;
    p->uri = initial->unparsed_uri;
    p->protocol = initial->protocol;
    p->host = r->hostname ? r->hostname : "";
    p->status = r->status;
    p->discarded_bytes = state->discarded_bytes;
    p->server = ap_get_server_banner();
    p->mpm = ap_show_mpm();
    p->pid = (long)getpid();
    p->tid = (long)syscall(SYS_gettid);
    p->started = state->started;
    rp_sampler_stats(state->sampler, &p->stats);
}

/* The report replaces the response: nothing of the original's framing,
 * validators or encoding may survive, and nobody may cache it. */
static void set_report_headers(request_rec *r, apr_size_t length)
{
    static const char *const dropped[] = {
        "Content-Length",   "ETag",
        "Last-Modified",    "Content-MD5",
        "Content-Encoding", "Content-Range",
        "Content-Location", "Content-Disposition",
        "Content-Language", "Location",
        "Expires",          "Refresh",
        "Cache-Control",    "Accept-Ranges"};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
        apr_table_unset(r->headers_out, dropped[i]);
        apr_table_unset(r->err_headers_out, dropped[i]);
    }
    r->status = HTTP_OK;
    r->status_line = NULL;
    r->content_encoding = NULL;
    r->content_languages = NULL;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)length);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Accept-Ranges", "none");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; "
                   "script-src 'unsafe-inline'");
}

static apr_status_t send_report(ap_filter_t *f, rp_request_t *state)
{
    request_rec *r = f->r;
    rp_sampler_stop(state->sampler, state->session);
    state->finished = 1;

    rp_profile_t profile = {0};
    fill_profile(&profile, r, state);
    apr_pool_t *scratch;
    apr_pool_create(&scratch, r->pool);
    apr_pool_tag(scratch, "reqprof_report");
    rp_profile_build_tree(&profile, state->sampler, process_symbols, scratch);
    rp_sampler_discard(state->sampler);
    apr_size_t length;
    const char *html = rp_html_render(&profile, r->pool, &length);
    apr_pool_destroy(scratch);

    set_report_headers(r, length);
    apr_bucket_brigade *out = apr_brigade_create(r->pool, f->c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(
        out, apr_bucket_pool_create(html, length, r->pool, f->c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(f->c->bucket_alloc));
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, out);
}

/* Swallows the original body as it streams, never holding more than one
 * brigade of it, and sends the report at end of stream. */
static apr_status_t reqprof_output_filter(ap_filter_t *f,
                                          apr_bucket_brigade *bb)
{
    rp_request_t *state = request_state(f->r);
    if (state == NULL || state->finished) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
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
            state->discarded_bytes += (apr_off_t)len;
        }
        apr_bucket_delete(b);
    }
    return seen_eos ? send_report(f, state) : APR_SUCCESS;
}

/* ---- process life ----------------------------------------------------- */

static apr_status_t shutdown_sampler(void *data)
{
    (void)data;
    rp_sampler_shutdown_process();
    process_symbols = NULL;
    return APR_SUCCESS;
}

static void reqprof_child_init(apr_pool_t *pchild, server_rec *s)
{
    const rp_server_conf_t *sc =
        ap_get_module_config(s->module_config, &reqprof_module);
    int signo = sc->signo ? sc->signo : SIGRTMIN + DEFAULT_SIGNAL_OFFSET;
    apr_status_t rv = rp_sampler_init_process(signo, SAMPLE_ARENA_BYTES);
    if (rv == APR_SUCCESS) {
        rv = rp_symbols_create(&process_symbols, pchild);
    }
    if (rv != APR_SUCCESS) {
        process_symbols = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     LOG_TAG "profiling disabled in this process: cannot "
                             "set up signal %d or the symbol table",
                     signo);
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, shutdown_sampler,
                              apr_pool_cleanup_null);
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(reqprof_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(reqprof_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_insert_filter(reqprof_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(reqprof_insert_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    /* Before mod_deflate and CACHE_SAVE: the report is what gets compressed,
     * and the original body is never cached under the report's name. */
    profile_filter_handle = ap_register_output_filter(
        FILTER_NAME, reqprof_output_filter, NULL, AP_FTYPE_CONTENT_SET - 1);
}

AP_DECLARE_MODULE(reqprof) = {STANDARD20_MODULE_STUFF,
                              create_dir_conf,
                              merge_dir_conf,
                              create_server_conf,
                              NULL,
                              reqprof_directives,
                              register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
                              AP_MODULE_FLAG_NONE
#endif
};
