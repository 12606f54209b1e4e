/* mod_reqprof's configuration: the directives (parsed and checked in
 * mod_reqprof_config.c when the configuration is read), the per-directory
 * and per-server structures they fill, and the accessors every other glue
 * file reads them through (defaults applied). */
#ifndef MOD_REQPROF_CONFIG_H
#define MOD_REQPROF_CONFIG_H

#include "mod_reqprof.h"

#include "ap_expr.h"

#include <apr_file_io.h>

#include "rp_pstore.h"
#include "rp_sampler.h"
#include "rp_store_target.h"

/* ReqProfileLog. */
typedef enum {
    RP_LOG_OFF = 0,  /* a triggered request's response is its report */
    RP_LOG_ON = 1,   /* every request: response unchanged, a record logged */
    RP_LOG_SLOW = 2, /* the same, kept only when slower than a threshold */
    RP_LOG_STORE = 3 /* one request asked to be stored (profile=store): the
                        response unchanged, the profile saved, no record */
} rp_log_mode_e;

typedef struct rp_dir_conf {
    int enabled;
    apr_interval_time_t interval_us;
    int clock;
    const char *param;
    ap_expr_info_t *require; /* unset: loopback clients not forwarded by a
                                proxy (see rp_client_allowed) */
    int require_set;
    int max_samples;
    apr_interval_time_t max_duration_us;
    apr_array_header_t *collapse; /* of const char *; NULL: the default */
    int collapse_none;            /* "none" given here (checked, not merged) */
    int log_mode;                 /* RP_UNSET or rp_log_mode_e */
    apr_interval_time_t log_slow_us;
    int sample_rate;       /* 1 in N requests in log mode; RP_UNSET: 1 */
    ap_expr_info_t *group; /* ReqProfileGroup; NULL: method and path */
} rp_dir_conf_t;

typedef struct rp_server_conf {
    int signo;             /* 0: the default */
    int enabled_somewhere; /* ReqProfile On in some context of the server */
    int server_timing;     /* RP_UNSET, 0 or 1 */
    int max_concurrent;    /* per process; 0: the default */
    const char *log_file;  /* NULL: records go to the error log */
    int log_level;         /* RP_UNSET: notice */
    const char *dir;       /* NULL: profiles are not saved (or: redis) */
    int dir_max_count;     /* 0: the default */
    apr_off_t dir_max_bytes;
    rp_store_target_t *redis; /* ReqProfileStore redis://...; NULL: none */
    const char *password;     /* ReqProfileStorePasswordFile's content */
    int store_ttl;            /* seconds; 0: the default */
    int store_limit;          /* profiles the shared index keeps; 0: dflt */
    apr_interval_time_t store_timeout; /* 0: the default */
    int store_queue;                   /* 0: the default */
    int group_worst;       /* slowest kept per group; RP_UNSET: the default */
    const char *index_url; /* ReqProfileIndexURL; NULL: none */
    rp_pstore_t *store;    /* made at post_config (mod_reqprof_store) */
    apr_file_t *log_fd;    /* log_file, opened by open_logs */
} rp_server_conf_t;

/* The module record's configuration entries (mod_reqprof.c). */
extern const command_rec rp_directives[];
void *rp_create_dir_conf(apr_pool_t *p, char *dir);
void *rp_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *rp_create_server_conf(apr_pool_t *p, server_rec *s);
void *rp_merge_server_conf(apr_pool_t *p, void *base, void *add);
apr_interval_time_t rp_conf_interval(const rp_dir_conf_t *conf);
rp_clock_e rp_conf_clock(const rp_dir_conf_t *conf);
int rp_conf_signal(const server_rec *s);
/* What the configuration may use, each needing hooks of its own. */
typedef enum {
    /* Some request can be profiled, logged or timed: ReqProfile On,
     * ReqProfileLog or ReqProfileServerTiming in the configuration files,
     * or an AllowOverride that lets .htaccess files hold ReqProfile. */
    RP_USE_REQUESTS,
    /* A profile may be logged or saved after its response: log mode or a
     * store. */
    RP_USE_LOG,
    /* The reqprof-index handler may be asked for: the configuration names
     * it, or lets .htaccess files set handlers. */
    RP_USE_INDEX
} rp_use_e;

/* Registers the hooks that decide rp_conf_requests_wanted. While the
 * configuration is read, calls hooks_for once for each use it finds, so
 * that a server that loads the module without using it registers no
 * request hook of it at all. */
void rp_config_register(void (*hooks_for)(rp_use_e use));

unsigned rp_conf_max_samples(const rp_dir_conf_t *conf);
apr_interval_time_t rp_conf_max_duration(const rp_dir_conf_t *conf);
int rp_conf_max_concurrent(const server_rec *s);
/* The object patterns whose frames fold into their callers. */
const char *const *rp_conf_collapse(const rp_dir_conf_t *conf, int *count);
apr_interval_time_t rp_conf_log_slow(const rp_dir_conf_t *conf);
unsigned rp_conf_sample_rate(const rp_dir_conf_t *conf);
int rp_conf_log_level(const server_rec *s);
/* ReqProfileDir (NULL: not saving) and its limits. */
const char *rp_conf_dir(const server_rec *s);
void rp_conf_dir_limits(const server_rec *s, int *max_count,
                        apr_off_t *max_bytes);
/* ReqProfileStore redis://... with its settings and defaults applied into
 * out (node: this host's name, in pool). 0 if s saves to no Redis. */
int rp_conf_redis(const server_rec *s, apr_pool_t *pool, rp_redis_conf_t *out);
/* Setting the store s saves to (rp_conf_store). */
void rp_conf_set_store(server_rec *s, rp_pstore_t *store);
/* ReqProfileIndexURL: where the reqprof-index handler is (NULL: unknown). */
const char *rp_conf_index_url(const server_rec *s);

/* conf's ReqProfileGroup expression, or NULL for the default (the method
 * and the path). */
const ap_expr_info_t *rp_conf_group(const rp_dir_conf_t *conf);
/* ReqProfileLogFile (NULL: the error log) and its descriptor, opened in
 * the parent at open_logs (see mod_reqprof_log.c). */
const char *rp_conf_log_file(const server_rec *s);
apr_file_t *rp_conf_log_fd(const server_rec *s);
void rp_conf_set_log_fd(server_rec *s, apr_file_t *fd);

/* ---- what every request reads ------------------------------------------
 * Inline: the request hooks read these on every request. */

#define RP_DEFAULT_PARAM "profile"

/* Set at post_config; see rp_conf_requests_wanted. */
extern int rp_conf_requests_wanted_;

/* Whether any request can have something to do with the module, decided
 * at post_config: ReqProfile On, ReqProfileLog or ReqProfileServerTiming
 * in some context of the configuration files, or an .htaccess file allowed
 * to hold ReqProfile. When not, every request hook returns at once: a
 * server that loads the module without using it runs as without it. */
static inline int rp_conf_requests_wanted(void)
{
    return rp_conf_requests_wanted_;
}

/* Whether query (NULL: none) may name the trigger parameter of some
 * context: holds one of the names the configuration uses, or a '%' (a name
 * may be percent-encoded). Most queries do not, and their requests ask for
 * nothing. */
int rp_conf_query_may_trigger(const char *query);

static inline const rp_dir_conf_t *rp_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &reqprof_module);
}

static inline const rp_server_conf_t *rp_conf_of_server(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &reqprof_module);
}

/* ReqProfile On in conf's context. */
static inline int rp_conf_enabled(const rp_dir_conf_t *conf)
{
    return conf->enabled == 1;
}

/* ReqProfile On appears somewhere in s's configuration files. */
static inline int rp_conf_enabled_somewhere(const server_rec *s)
{
    return rp_conf_of_server(s)->enabled_somewhere;
}

static inline const char *rp_conf_param(const rp_dir_conf_t *conf)
{
    return conf->param ? conf->param : RP_DEFAULT_PARAM;
}

static inline int rp_conf_server_timing(const server_rec *s)
{
    return rp_conf_of_server(s)->server_timing == 1;
}

static inline rp_log_mode_e rp_conf_log_mode(const rp_dir_conf_t *conf)
{
    return conf->log_mode != RP_UNSET ? (rp_log_mode_e)conf->log_mode
                                      : RP_LOG_OFF;
}

/* The store s saves to and its index lists (NULL: none). */
static inline rp_pstore_t *rp_conf_store(const server_rec *s)
{
    return rp_conf_of_server(s)->store;
}

/* conf's ReqProfileRequire expression, or NULL for the default rule. */
static inline const ap_expr_info_t *rp_conf_require(const rp_dir_conf_t *conf)
{
    return conf->require_set ? conf->require : NULL;
}

#endif
