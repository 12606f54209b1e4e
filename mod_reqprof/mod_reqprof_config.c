/* mod_reqprof's directives: parsed and checked when the configuration is
 * read, so a bad value stops httpd with a clear message. */
#include "mod_reqprof_config.h"

#include "http_core.h"
#include "http_log.h"

#include <apr_strings.h>
#include <signal.h>
#include <stdlib.h>
#include <strings.h>

#include "rp_collapse.h"
#include "rp_interval.h"

APLOG_USE_MODULE(reqprof);

/* Clear of SIGRTMIN itself, which mod_php's thread-safe build and other
 * runtimes take first. */
#define DEFAULT_SIGNAL_OFFSET 5
/* Bounds on one profile: 20 000 samples hold ~7 MB of stacks at depth 40
 * (the per-thread buffer is 16 MiB), and 20 s at 1 ms. */
#define DEFAULT_MAX_SAMPLES 20000
#define LIMIT_MAX_SAMPLES 40000
#define DEFAULT_MAX_DURATION_US (60 * APR_USEC_PER_SEC)
#define DEFAULT_MAX_CONCURRENT 4
/* Saved profiles: one takes 50 KB to 1 MB (its three files). */
#define DEFAULT_DIR_MAX_COUNT 100
#define DEFAULT_DIR_MAX_BYTES ((apr_off_t)100 * 1024 * 1024)
#define LIMIT_SAMPLE_RATE 1000000

void *rp_create_dir_conf(apr_pool_t *p, char *dir)
{
    (void)dir;
    rp_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->enabled = RP_UNSET;
    c->interval_us = RP_UNSET;
    c->clock = RP_UNSET;
    c->max_samples = RP_UNSET;
    c->max_duration_us = RP_UNSET;
    c->log_mode = RP_UNSET;
    c->sample_rate = RP_UNSET;
    return c;
}

void *rp_merge_dir_conf(apr_pool_t *p, void *base_v, void *add_v)
{
    const rp_dir_conf_t *base = base_v;
    const rp_dir_conf_t *add = add_v;
    rp_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->enabled = add->enabled != RP_UNSET ? add->enabled : base->enabled;
    c->interval_us =
        add->interval_us != RP_UNSET ? add->interval_us : base->interval_us;
    c->clock = add->clock != RP_UNSET ? add->clock : base->clock;
    c->max_samples =
        add->max_samples != RP_UNSET ? add->max_samples : base->max_samples;
    c->max_duration_us = add->max_duration_us != RP_UNSET
                             ? add->max_duration_us
                             : base->max_duration_us;
    c->collapse = add->collapse ? add->collapse : base->collapse;
    c->param = add->param ? add->param : base->param;
    c->require_set = add->require_set || base->require_set;
    c->require = add->require_set ? add->require : base->require;
    c->group = add->group ? add->group : base->group;
    if (add->log_mode != RP_UNSET) {
        c->log_mode = add->log_mode;
        c->log_slow_us = add->log_slow_us;
    } else {
        c->log_mode = base->log_mode;
        c->log_slow_us = base->log_slow_us;
    }
    c->sample_rate =
        add->sample_rate != RP_UNSET ? add->sample_rate : base->sample_rate;
    return c;
}

void *rp_create_server_conf(apr_pool_t *p, server_rec *s)
{
    (void)s;
    rp_server_conf_t *c = apr_pcalloc(p, sizeof(rp_server_conf_t));
    c->server_timing = RP_UNSET;
    c->log_level = RP_UNSET;
    c->group_worst = RP_UNSET;
    return c;
}

void *rp_merge_server_conf(apr_pool_t *p, void *base_v, void *add_v)
{
    const rp_server_conf_t *base = base_v;
    const rp_server_conf_t *add = add_v;
    rp_server_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->signo = base->signo; /* one per process: the main server's */
    c->max_concurrent = base->max_concurrent;
    /* The main server's sections apply to its virtual hosts too. */
    c->enabled_somewhere = base->enabled_somewhere || add->enabled_somewhere;
    c->server_timing = add->server_timing != RP_UNSET ? add->server_timing
                                                      : base->server_timing;
    c->log_file = add->log_file ? add->log_file : base->log_file;
    c->log_level =
        add->log_level != RP_UNSET ? add->log_level : base->log_level;
    /* ReqProfileStore or ReqProfileDir: a virtual host that names a store
     * takes it whole, whichever kind. */
    if (add->dir != NULL || add->redis != NULL) {
        c->dir = add->dir;
        c->redis = add->redis;
        c->password = add->password;
    } else {
        c->dir = base->dir;
        c->redis = base->redis;
        c->password = base->password;
    }
    if (add->password != NULL) {
        c->password = add->password;
    }
    c->store_ttl = add->store_ttl ? add->store_ttl : base->store_ttl;
    c->store_limit = add->store_limit ? add->store_limit : base->store_limit;
    c->store_timeout =
        add->store_timeout ? add->store_timeout : base->store_timeout;
    c->store_queue = add->store_queue ? add->store_queue : base->store_queue;
    c->group_worst =
        add->group_worst != RP_UNSET ? add->group_worst : base->group_worst;
    c->index_url = add->index_url ? add->index_url : base->index_url;
    if (add->dir_max_count > 0) {
        c->dir_max_count = add->dir_max_count;
        c->dir_max_bytes = add->dir_max_bytes;
    } else {
        c->dir_max_count = base->dir_max_count;
        c->dir_max_bytes = base->dir_max_bytes;
    }
    return c;
}

/* A directive read at startup (not from an .htaccess file at request time)
 * gave requests something to do: a context profiles, logs or times them. */
static int requests_used;

/* The hooks each use needs, registered at most once per reading of the
 * configuration (httpd drops every hook at a restart). They must be in
 * before the configuration has been processed: httpd sorts hooks once more
 * then, and never again. */
static void (*register_hooks_for)(rp_use_e use);
static unsigned uses_registered; /* a bit per rp_use_e */

static int registered_for(rp_use_e use)
{
    return (uses_registered >> use) & 1;
}

static void need_hooks_for(rp_use_e use)
{
    if (!registered_for(use)) {
        uses_registered |= 1u << use;
        register_hooks_for(use);
    }
}

static rp_server_conf_t *server_conf_of(const cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &reqprof_module);
}

static int at_startup(const cmd_parms *cmd)
{
    return cmd->pool == cmd->server->process->pconf;
}

static void note_requests_used(const cmd_parms *cmd)
{
    if (at_startup(cmd)) {
        requests_used = 1;
        need_hooks_for(RP_USE_REQUESTS);
    }
}

/* Log mode or a store: a profile may be logged or saved once its response
 * is out. */
static void note_profiles_kept(const cmd_parms *cmd)
{
    if (at_startup(cmd)) {
        need_hooks_for(RP_USE_LOG);
    }
}

int rp_conf_requests_wanted_ = 1;

static const char *set_server_timing(cmd_parms *cmd, void *dconf, int on)
{
    (void)dconf;
    if (on) {
        note_requests_used(cmd);
    }
    server_conf_of(cmd)->server_timing = on;
    return NULL;
}

static const char *set_enabled(cmd_parms *cmd, void *dconf, int on)
{
    ((rp_dir_conf_t *)dconf)->enabled = on;
    if (on) {
        note_requests_used(cmd);
    }
    /* Read at startup, not from .htaccess files at request time. */
    if (on && at_startup(cmd)) {
        server_conf_of(cmd)->enabled_somewhere = 1;
    }
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

/* Every trigger parameter name the configuration uses: the default, and
 * each ReqProfileParam (which .htaccess files cannot set, so the list is
 * complete once the configuration has been read). Past the array's size
 * every query is taken to possibly name one. */
#define TRIGGER_NAMES_MAX 16
static const char *trigger_names[TRIGGER_NAMES_MAX] = {RP_DEFAULT_PARAM};
static int trigger_name_count = 1;

static void note_trigger_name(const char *name)
{
    for (int i = 0; i < trigger_name_count && i < TRIGGER_NAMES_MAX; i++) {
        if (strcmp(trigger_names[i], name) == 0) {
            return;
        }
    }
    if (trigger_name_count < TRIGGER_NAMES_MAX) {
        trigger_names[trigger_name_count] = name;
    }
    trigger_name_count++;
}

RP_HOOK_GATE int rp_conf_query_may_trigger(const char *query)
{
    if (query == NULL) {
        return 0;
    }
    /* A name that decodes to a trigger's is that name itself unless it is
     * percent-encoded ('+' only makes spaces, which no name holds). */
    if (trigger_name_count > TRIGGER_NAMES_MAX || strchr(query, '%') != NULL) {
        return 1;
    }
    for (int i = 0; i < trigger_name_count; i++) {
        if (strstr(query, trigger_names[i]) != NULL) {
            return 1;
        }
    }
    return 0;
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
    note_trigger_name(arg);
    return NULL;
}

static const char *set_require(cmd_parms *cmd, void *dconf, const char *arg)
{
    rp_dir_conf_t *c = dconf;
    const char *err = NULL;
    /* DONT_VARY: evaluating the rule must not add its headers to Vary on
     * every response that carries the trigger (nor name them to clients). */
    c->require =
        ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_DONT_VARY, &err, NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: cannot parse expression '%s': %s",
                            cmd->cmd->name, arg, err);
    }
    c->require_set = 1;
    return NULL;
}

static const char *set_group(cmd_parms *cmd, void *dconf, const char *arg)
{
    rp_dir_conf_t *c = dconf;
    const char *err = NULL;
    c->group = ap_expr_parse_cmd(
        cmd, arg, AP_EXPR_FLAG_STRING_RESULT | AP_EXPR_FLAG_DONT_VARY, &err,
        NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool,
                            "%s: cannot parse string expression '%s': %s",
                            cmd->cmd->name, arg, err);
    }
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
    server_conf_of(cmd)->signo = (int)signo;
    return NULL;
}

/* A whole number in [min, max], or an error naming the directive. */
static const char *parse_count(cmd_parms *cmd, const char *arg, long min,
                               long max, long *out)
{
    char *end = NULL;
    long n = (*arg >= '0' && *arg <= '9') ? strtol(arg, &end, 10) : -1;
    if (end == NULL || *end != '\0' || n < min || n > max) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number from %ld to %ld",
                            cmd->cmd->name, arg, min, max);
    }
    *out = n;
    return NULL;
}

static const char *set_max_samples(cmd_parms *cmd, void *dconf, const char *arg)
{
    long n = 0;
    const char *err = parse_count(cmd, arg, 1, LIMIT_MAX_SAMPLES, &n);
    if (err == NULL) {
        ((rp_dir_conf_t *)dconf)->max_samples = (int)n;
    }
    return err;
}

static const char *set_max_duration(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    apr_interval_time_t us;
    const char *err =
        rp_duration_parse(cmd->pool, arg, 1000, 3600 * APR_USEC_PER_SEC, &us);
    if (err != NULL) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
    }
    ((rp_dir_conf_t *)dconf)->max_duration_us = us;
    return NULL;
}

static const char *set_max_concurrent(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    (void)dconf;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n = 0;
    if (err == NULL) {
        err = parse_count(cmd, arg, 1, 1024, &n);
    }
    if (err == NULL) {
        server_conf_of(cmd)->max_concurrent = (int)n;
    }
    return err;
}

/* "none" alone empties the list; otherwise each argument is a pattern
 * (rp_collapse's syntax). Repeating the directive in one context adds
 * patterns; "none" cannot be mixed with them, in either order. */
static const char *add_collapse(cmd_parms *cmd, void *dconf, const char *arg)
{
    rp_dir_conf_t *c = dconf;
    if (c->collapse == NULL) {
        c->collapse = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    int none = strcasecmp(arg, "none") == 0;
    if (none ? c->collapse->nelts > 0 : c->collapse_none) {
        return apr_psprintf(cmd->pool,
                            "%s: 'none' must stand alone (it shows every "
                            "frame; give patterns or none, not both)",
                            cmd->cmd->name);
    }
    if (none) {
        c->collapse_none = 1;
        return NULL;
    }
    const char *why = rp_collapse_check(arg);
    if (why != NULL) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a usable pattern: %s",
                            cmd->cmd->name, ap_escape_logitem(cmd->pool, arg),
                            why);
    }
    APR_ARRAY_PUSH(c->collapse, const char *) = arg;
    return NULL;
}

/* "On", "Off" or "slow DURATION". */
static const char *set_log(cmd_parms *cmd, void *dconf, const char *mode,
                           const char *threshold)
{
    rp_dir_conf_t *c = dconf;
    if (strcasecmp(mode, "slow") == 0) {
        if (threshold == NULL) {
            return apr_psprintf(cmd->pool,
                                "%s: 'slow' needs a duration: ReqProfileLog "
                                "slow 500ms",
                                cmd->cmd->name);
        }
        apr_interval_time_t us;
        const char *err = rp_duration_parse(cmd->pool, threshold, 1000,
                                            3600 * APR_USEC_PER_SEC, &us);
        if (err != NULL) {
            return apr_pstrcat(cmd->pool, cmd->cmd->name, " slow: ", err, NULL);
        }
        c->log_mode = RP_LOG_SLOW;
        c->log_slow_us = us;
        note_requests_used(cmd);
        note_profiles_kept(cmd);
        return NULL;
    }
    int on = strcasecmp(mode, "on") == 0;
    if (!on && strcasecmp(mode, "off") != 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a mode: use On, Off or slow "
                            "DURATION",
                            cmd->cmd->name, mode);
    }
    if (threshold != NULL) {
        return apr_psprintf(cmd->pool,
                            "%s %s takes no duration ('%s'): only slow does",
                            cmd->cmd->name, mode, threshold);
    }
    c->log_mode = on ? RP_LOG_ON : RP_LOG_OFF;
    c->log_slow_us = 0;
    if (on) {
        note_requests_used(cmd);
        note_profiles_kept(cmd);
    }
    return NULL;
}

static const char *set_sample_rate(cmd_parms *cmd, void *dconf, const char *arg)
{
    long n = 0;
    const char *err = parse_count(cmd, arg, 1, LIMIT_SAMPLE_RATE, &n);
    if (err == NULL) {
        ((rp_dir_conf_t *)dconf)->sample_rate = (int)n;
    }
    return err;
}

static const char *set_log_level(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    int level = 0;
    const char *err = ap_parse_log_level(arg, &level);
    if (err != NULL || level > APLOG_DEBUG) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a log level: use emerg, alert, "
                            "crit, error, warn, notice, info or debug",
                            cmd->cmd->name, arg);
    }
    server_conf_of(cmd)->log_level = level;
    return NULL;
}

/* A path, relative to ServerRoot unless absolute. */
static const char *server_path(cmd_parms *cmd, const char *arg,
                               const char **out)
{
    if (*arg == '\0' || *arg == '|') {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a file name (pipes are not "
                            "supported)",
                            cmd->cmd->name, arg);
    }
    const char *path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path",
                            cmd->cmd->name, arg);
    }
    *out = path;
    return NULL;
}

static const char *set_log_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    return server_path(cmd, arg, &server_conf_of(cmd)->log_file);
}

static const char *set_dir(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    note_profiles_kept(cmd);
    server_conf_of(cmd)->redis = NULL;
    return server_path(cmd, arg, &server_conf_of(cmd)->dir);
}

static const char *set_store(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    note_profiles_kept(cmd);
    rp_store_target_t *t = apr_pcalloc(cmd->pool, sizeof(*t));
    const char *err = rp_store_target_parse(arg, cmd->pool, t);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name,
                            ap_escape_logitem(cmd->pool, err));
    }
    rp_server_conf_t *sc = server_conf_of(cmd);
    if (t->kind == RP_STORE_DIR) {
        sc->redis = NULL;
        return server_path(cmd, t->path, &sc->dir);
    }
    sc->dir = NULL;
    sc->redis = t;
    return NULL;
}

/* The first line of a file only root may read, read now (as root). */
static const char *set_password_file(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    (void)dconf;
    const char *path = NULL;
    const char *err = server_path(cmd, arg, &path);
    if (err != NULL) {
        return err;
    }
    apr_file_t *f;
    char line[1024] = "";
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ,
                                    APR_FPROT_OS_DEFAULT, cmd->temp_pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_gets(line, sizeof(line), f);
        apr_file_close(f);
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (rv != APR_SUCCESS || line[0] == '\0') {
        return apr_psprintf(cmd->pool,
                            "%s: cannot read a password from the first line "
                            "of %s",
                            cmd->cmd->name, path);
    }
    server_conf_of(cmd)->password = apr_pstrdup(cmd->pool, line);
    return NULL;
}

static const char *set_store_ttl(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    apr_interval_time_t us;
    const char *err = rp_duration_parse(
        cmd->pool, arg, APR_USEC_PER_SEC,
        (apr_interval_time_t)366 * 86400 * APR_USEC_PER_SEC, &us);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    server_conf_of(cmd)->store_ttl = (int)(us / APR_USEC_PER_SEC);
    return NULL;
}

static const char *set_store_limit(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    long n = 0;
    const char *err = parse_count(cmd, arg, 1, 1000000, &n);
    if (err == NULL) {
        server_conf_of(cmd)->store_limit = (int)n;
    }
    return err;
}

static const char *set_store_timeout(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    (void)dconf;
    apr_interval_time_t us;
    const char *err =
        rp_duration_parse(cmd->pool, arg, 1000, 10 * APR_USEC_PER_SEC, &us);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    server_conf_of(cmd)->store_timeout = us;
    return NULL;
}

static const char *set_store_queue(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    long n = 0;
    const char *err = parse_count(cmd, arg, 1, 10000, &n);
    if (err == NULL) {
        server_conf_of(cmd)->store_queue = (int)n;
    }
    return err;
}

static const char *set_group_worst(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    long n = 0;
    const char *err = parse_count(cmd, arg, 0, 100, &n);
    if (err == NULL) {
        server_conf_of(cmd)->group_worst = (int)n;
    }
    return err;
}

static const char *set_index_url(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    int absolute = arg[0] == '/' || strncasecmp(arg, "http://", 7) == 0 ||
                   strncasecmp(arg, "https://", 8) == 0;
    for (const char *p = arg; absolute && *p != '\0'; p++) {
        absolute = (unsigned char)*p > ' ' && *p != '"' && *p != '<' &&
                   *p != '>' && *p != '\\' && (unsigned char)*p < 127;
    }
    if (!absolute) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a path (/profiles/) or an "
                            "http(s) URL without spaces or quotes",
                            cmd->cmd->name, ap_escape_logitem(cmd->pool, arg));
    }
    server_conf_of(cmd)->index_url = arg;
    return NULL;
}

/* "100", "512K", "50M", "2G": bytes, or KiB, MiB, GiB. */
static const char *parse_size(cmd_parms *cmd, const char *arg, apr_off_t *out)
{
    char *end = NULL;
    long long n = (*arg >= '0' && *arg <= '9') ? strtoll(arg, &end, 10) : -1;
    apr_off_t unit = 1;
    if (end != NULL && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            unit = 1024;
            end++;
            break;
        case 'm':
        case 'M':
            unit = 1024 * 1024;
            end++;
            break;
        case 'g':
        case 'G':
            unit = 1024 * 1024 * 1024;
            end++;
            break;
        default:
            break;
        }
    }
    const long long max = 1024LL * 1024 * 1024 * 1024; /* 1 TiB */
    if (n < 1 || end == NULL || *end != '\0' || n > max / unit ||
        n * unit < 64 * 1024) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a size from 64K to 1024G: use a "
                            "number of bytes or one with K, M or G",
                            cmd->cmd->name, arg);
    }
    *out = (apr_off_t)(n * unit);
    return NULL;
}

static const char *set_dir_limit(cmd_parms *cmd, void *dconf, const char *count,
                                 const char *size)
{
    (void)dconf;
    long n = 0;
    apr_off_t bytes = 0;
    const char *err = parse_count(cmd, count, 1, 100000, &n);
    if (err == NULL) {
        err = parse_size(cmd, size, &bytes);
    }
    if (err == NULL) {
        rp_server_conf_t *sc = server_conf_of(cmd);
        sc->dir_max_count = (int)n;
        sc->dir_max_bytes = bytes;
    }
    return err;
}

const command_rec rp_directives[] = {
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
                  "(default: loopback clients not forwarded by a proxy)"),
    AP_INIT_TAKE1("ReqProfileGroup", set_group, NULL, RSRC_CONF | ACCESS_CONF,
                  "the group (route) a profiled request belongs to, a string "
                  "expression (default: the method and the path)"),
    AP_INIT_TAKE1("ReqProfileSignal", set_signal, NULL, RSRC_CONF,
                  "Realtime signal used for sampling (default SIGRTMIN+5)"),
    AP_INIT_FLAG("ReqProfileServerTiming", set_server_timing, NULL, RSRC_CONF,
                 "On to add a Server-Timing header with httpd's phases to "
                 "responses that are not profiled"),
    AP_INIT_TAKE1("ReqProfileMaxSamples", set_max_samples, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Samples after which sampling stops (default 20000)"),
    AP_INIT_TAKE1("ReqProfileMaxDuration", set_max_duration, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Time after which sampling stops (default 60s)"),
    AP_INIT_ITERATE("ReqProfileCollapse", add_collapse, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "Shared objects whose frames fold into their callers by "
                    "default (patterns: * and ? wildcards, brackets "
                    "literal), or none"),
    AP_INIT_TAKE1("ReqProfileMaxConcurrent", set_max_concurrent, NULL,
                  RSRC_CONF, "Profiles at once per child process (default 4)"),
    AP_INIT_TAKE12("ReqProfileLog", set_log, NULL, RSRC_CONF | ACCESS_CONF,
                   "On to profile every request and log a record of it "
                   "with the response unchanged, slow DURATION to keep only "
                   "slower ones, Off (default)"),
    AP_INIT_TAKE1("ReqProfileSampleRate", set_sample_rate, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Log mode profiles 1 in N requests (default 1)"),
    AP_INIT_TAKE1("ReqProfileLogLevel", set_log_level, NULL, RSRC_CONF,
                  "Error log level of log mode's records (default notice)"),
    AP_INIT_TAKE1("ReqProfileLogFile", set_log_file, NULL, RSRC_CONF,
                  "File for log mode's records instead of the error log"),
    AP_INIT_TAKE1("ReqProfileDir", set_dir, NULL, RSRC_CONF,
                  "Directory where profiles are saved (default: not saved)"),
    AP_INIT_TAKE1("ReqProfileStore", set_store, NULL, RSRC_CONF,
                  "Where profiles are saved: dir:PATH (as ReqProfileDir) or "
                  "redis://[USER@]HOST[:PORT][/DB], shared by a fleet"),
    AP_INIT_TAKE1("ReqProfileStorePasswordFile", set_password_file, NULL,
                  RSRC_CONF,
                  "File whose first line is the Redis password (AUTH)"),
    AP_INIT_TAKE1("ReqProfileStoreTTL", set_store_ttl, NULL, RSRC_CONF,
                  "How long Redis keeps a profile (default 1d)"),
    AP_INIT_TAKE1("ReqProfileStoreLimit", set_store_limit, NULL, RSRC_CONF,
                  "Profiles the Redis index keeps, newest first (default "
                  "10000)"),
    AP_INIT_TAKE1("ReqProfileStoreTimeout", set_store_timeout, NULL, RSRC_CONF,
                  "Timeout of connecting to Redis and of each command "
                  "(default 200ms)"),
    AP_INIT_TAKE1("ReqProfileStoreQueue", set_store_queue, NULL, RSRC_CONF,
                  "Profiles waiting to be written per child before more are "
                  "dropped (default 32)"),
    AP_INIT_TAKE1("ReqProfileGroupWorst", set_group_worst, NULL, RSRC_CONF,
                  "The slowest profiles of each group a shared store keeps "
                  "past its TTL and limit (default 5, 0 to 100)"),
    AP_INIT_TAKE1("ReqProfileIndexURL", set_index_url, NULL, RSRC_CONF,
                  "URL of the reqprof-index handler, for the link a stored "
                  "profile's response carries"),
    AP_INIT_TAKE2("ReqProfileDirLimit", set_dir_limit, NULL, RSRC_CONF,
                  "Saved profiles kept: a count and a total size such as "
                  "100 100M (the default)"),
    {NULL}};

apr_interval_time_t rp_conf_interval(const rp_dir_conf_t *conf)
{
    return conf->interval_us != RP_UNSET ? conf->interval_us
                                         : RP_INTERVAL_DEFAULT_US;
}

rp_clock_e rp_conf_clock(const rp_dir_conf_t *conf)
{
    return conf->clock != RP_UNSET ? (rp_clock_e)conf->clock : RP_CLOCK_WALL;
}

int rp_conf_signal(const server_rec *s)
{
    const rp_server_conf_t *sc = rp_conf_of_server(s);
    return sc->signo ? sc->signo : SIGRTMIN + DEFAULT_SIGNAL_OFFSET;
}

unsigned rp_conf_max_samples(const rp_dir_conf_t *conf)
{
    return conf->max_samples != RP_UNSET ? (unsigned)conf->max_samples
                                         : DEFAULT_MAX_SAMPLES;
}

apr_interval_time_t rp_conf_max_duration(const rp_dir_conf_t *conf)
{
    return conf->max_duration_us != RP_UNSET ? conf->max_duration_us
                                             : DEFAULT_MAX_DURATION_US;
}

int rp_conf_max_concurrent(const server_rec *s)
{
    const rp_server_conf_t *sc = rp_conf_of_server(s);
    return sc->max_concurrent ? sc->max_concurrent : DEFAULT_MAX_CONCURRENT;
}

const char *const *rp_conf_collapse(const rp_dir_conf_t *conf, int *count)
{
    if (conf->collapse == NULL) {
        *count = rp_collapse_default_count;
        return rp_collapse_default;
    }
    *count = conf->collapse->nelts;
    return (const char *const *)conf->collapse->elts;
}

apr_interval_time_t rp_conf_log_slow(const rp_dir_conf_t *conf)
{
    return rp_conf_log_mode(conf) == RP_LOG_SLOW ? conf->log_slow_us : 0;
}

unsigned rp_conf_sample_rate(const rp_dir_conf_t *conf)
{
    return conf->sample_rate != RP_UNSET ? (unsigned)conf->sample_rate : 1;
}

int rp_conf_log_level(const server_rec *s)
{
    const rp_server_conf_t *sc = rp_conf_of_server(s);
    return sc->log_level != RP_UNSET ? sc->log_level : APLOG_NOTICE;
}

const char *rp_conf_dir(const server_rec *s)
{
    return rp_conf_of_server(s)->dir;
}

void rp_conf_dir_limits(const server_rec *s, int *max_count,
                        apr_off_t *max_bytes)
{
    const rp_server_conf_t *sc = rp_conf_of_server(s);
    *max_count =
        sc->dir_max_count > 0 ? sc->dir_max_count : DEFAULT_DIR_MAX_COUNT;
    *max_bytes =
        sc->dir_max_count > 0 ? sc->dir_max_bytes : DEFAULT_DIR_MAX_BYTES;
}

#define DEFAULT_STORE_TTL 86400
#define DEFAULT_STORE_LIMIT 10000
#define DEFAULT_STORE_TIMEOUT apr_time_from_msec(200)
#define DEFAULT_STORE_QUEUE 32
#define DEFAULT_GROUP_WORST 5

int rp_conf_redis(const server_rec *s, apr_pool_t *pool, rp_redis_conf_t *out)
{
    const rp_server_conf_t *sc = rp_conf_of_server(s);
    if (sc->redis == NULL) {
        return 0;
    }
    memset(out, 0, sizeof(*out));
    out->target = *sc->redis;
    out->password = sc->password;
    out->ttl_seconds = sc->store_ttl ? sc->store_ttl : DEFAULT_STORE_TTL;
    out->max_profiles = sc->store_limit ? sc->store_limit : DEFAULT_STORE_LIMIT;
    out->timeout =
        sc->store_timeout ? sc->store_timeout : DEFAULT_STORE_TIMEOUT;
    out->queue_max = sc->store_queue ? sc->store_queue : DEFAULT_STORE_QUEUE;
    out->worst_per_group =
        sc->group_worst != RP_UNSET ? sc->group_worst : DEFAULT_GROUP_WORST;
    char host[256];
    out->node = apr_gethostname(host, sizeof(host), pool) == APR_SUCCESS
                    ? apr_pstrdup(pool, host)
                    : "unknown";
    return 1;
}

void rp_conf_set_store(server_rec *s, rp_pstore_t *store)
{
    ((rp_server_conf_t *)ap_get_module_config(s->module_config,
                                              &reqprof_module))
        ->store = store;
}

const char *rp_conf_index_url(const server_rec *s)
{
    return rp_conf_of_server(s)->index_url;
}

const ap_expr_info_t *rp_conf_group(const rp_dir_conf_t *conf)
{
    return conf->group;
}

const char *rp_conf_log_file(const server_rec *s)
{
    return rp_conf_of_server(s)->log_file;
}

apr_file_t *rp_conf_log_fd(const server_rec *s)
{
    return rp_conf_of_server(s)->log_fd;
}

void rp_conf_set_log_fd(server_rec *s, apr_file_t *fd)
{
    rp_server_conf_t *sc =
        ap_get_module_config(s->module_config, &reqprof_module);
    sc->log_fd = fd;
}

/* ---- whether requests have anything to do ------------------------------ */

/* An .htaccess file read under dir may hold ReqProfile (AllowOverride
 * Options, or AllowOverrideList naming it). */
static int htaccess_may_enable(const ap_conf_vector_t *dir)
{
    const core_dir_config *d = ap_get_core_module_config(dir);
    return d != NULL &&
           ((!(d->override & OR_UNSET) && (d->override & OR_OPTIONS)) ||
            (d->override_list != NULL &&
             apr_table_get(d->override_list, "ReqProfile") != NULL));
}

static int server_htaccess_may_enable(const server_rec *s)
{
    if (htaccess_may_enable(s->lookup_defaults)) {
        return 1;
    }
    const core_server_config *core =
        ap_get_core_module_config(s->module_config);
    const apr_array_header_t *sections = core->sec_dir;
    for (int i = 0; sections != NULL && i < sections->nelts; i++) {
        if (htaccess_may_enable(
                APR_ARRAY_IDX(sections, i, const ap_conf_vector_t *))) {
            return 1;
        }
    }
    return 0;
}

/* ---- what the configuration as read may ask for ------------------------
 *
 * Read from the configuration files as httpd read them (Include,
 * <IfModule> and the like applied, nothing processed yet), at pre_config:
 * hooks registered later would never be sorted. Each answer is a superset
 * of what the processed configuration asks for. */

/* The words of d's arguments, each passed to wanted until it says yes. */
static int any_word(apr_pool_t *p, const ap_directive_t *d,
                    int (*wanted)(const char *word))
{
    const char *args = d->args;
    while (args != NULL && *args != '\0') {
        if (wanted(ap_getword_conf(p, &args))) {
            return 1;
        }
    }
    return 0;
}

static int is_allow_override(const ap_directive_t *d)
{
    return strcasecmp(d->directive, "AllowOverride") == 0;
}

static int is_allow_override_list(const ap_directive_t *d)
{
    return strcasecmp(d->directive, "AllowOverrideList") == 0;
}

/* "All", or "Options" with or without "=...". */
static int override_allows_options(const char *word)
{
    size_t key = strcspn(word, "=");
    return strcasecmp(word, "All") == 0 ||
           (key == 7 && strncasecmp(word, "Options", key) == 0);
}

static int names_reqprof(const char *word)
{
    return strcasecmp(word, "ReqProfile") == 0;
}

/* An .htaccess file may hold ReqProfile (see server_htaccess_may_enable). */
static int line_lets_htaccess_use(apr_pool_t *p, const ap_directive_t *d)
{
    return (is_allow_override(d) && any_word(p, d, override_allows_options)) ||
           (is_allow_override_list(d) && any_word(p, d, names_reqprof));
}

/* SetHandler, AddHandler, a RewriteRule's H= flag: anything may name a
 * handler, and httpd folds its case. */
static int names_the_index(const char *word)
{
    return ap_strcasestr(word, RP_INDEX_HANDLER) != NULL;
}

static int override_allows_handlers(const char *word)
{
    return strcasecmp(word, "All") == 0 || strcasecmp(word, "FileInfo") == 0;
}

static int names_a_directive(const char *word)
{
    return strcasecmp(word, "None") != 0;
}

/* The index handler may be asked for: the configuration names it, or lets
 * .htaccess files set handlers. */
static int line_may_ask_for_index(apr_pool_t *p, const ap_directive_t *d)
{
    return any_word(p, d, names_the_index) ||
           (is_allow_override(d) && any_word(p, d, override_allows_handlers)) ||
           (is_allow_override_list(d) && any_word(p, d, names_a_directive));
}

static int tree_has(apr_pool_t *p, const ap_directive_t *d,
                    int (*line)(apr_pool_t *, const ap_directive_t *))
{
    for (; d != NULL; d = d->next) {
        if (line(p, d) || tree_has(p, d->first_child, line)) {
            return 1;
        }
    }
    return 0;
}

static int reset_requests_used(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp)
{
    (void)pconf, (void)plog;
    requests_used = 0;
    uses_registered = 0;
    trigger_name_count = 1; /* the default */
    /* An .htaccess file is read long after startup: its ReqProfile needs
     * the hooks in place now. The directives in the files register them
     * as they are processed (note_requests_used). */
    if (tree_has(ptemp, ap_conftree, line_lets_htaccess_use)) {
        need_hooks_for(RP_USE_REQUESTS);
    }
    if (tree_has(ptemp, ap_conftree, line_may_ask_for_index)) {
        need_hooks_for(RP_USE_INDEX);
    }
    return OK;
}

static int decide_requests_wanted(apr_pool_t *pconf, apr_pool_t *plog,
                                  apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf, (void)plog, (void)ptemp;
    int wanted = requests_used;
    for (const server_rec *v = s; v != NULL && !wanted; v = v->next) {
        wanted = server_htaccess_may_enable(v);
    }
    if (wanted && !registered_for(RP_USE_REQUESTS)) {
        /* An AllowOverride that the configuration files did not hold as
         * they were read (one a module added while processing them). */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RP_LOG_TAG "an AllowOverride added while the "
                                "configuration was processed lets .htaccess "
                                "files hold ReqProfile, but the module's "
                                "request hooks were not registered: "
                                "ReqProfile in .htaccess files takes no "
                                "effect. Put ReqProfile in the configuration "
                                "files");
        wanted = 0;
    }
    rp_conf_requests_wanted_ = wanted;
    return OK;
}

void rp_config_register(void (*hooks_for)(rp_use_e use))
{
    register_hooks_for = hooks_for;
    ap_hook_pre_config(reset_requests_used, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(decide_requests_wanted, NULL, NULL,
                        APR_HOOK_REALLY_FIRST);
}
