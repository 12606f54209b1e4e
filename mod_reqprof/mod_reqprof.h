/* mod_reqprof's httpd glue, shared by its files:
 *   mod_reqprof.c         the module, its hooks, each request's state
 *   mod_reqprof_config.c  directives
 *   mod_reqprof_output.c  the output filters and the report's formats
 *   mod_reqprof_log.c     log mode's records and saved profiles
 *   mod_reqprof_index.c   the reqprof-index handler (saved profiles)
 *   mod_reqprof_cache.c   keeping mod_cache from answering a profiled request
 * The rp_* files below them know nothing of httpd. */
#ifndef MOD_REQPROF_H
#define MOD_REQPROF_H

#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"

#include <apr_file_io.h>
#include <signal.h>

#include "rp_phase.h"
#include "rp_profile.h"
#include "rp_sampler.h"
#include "rp_symbols.h"
#include "rp_trigger.h"

extern module AP_MODULE_DECLARE_DATA reqprof_module;

#define RP_LOG_TAG "mod_reqprof: "
#define RP_UNSET -1

/* The handler that lists saved profiles (SetHandler reqprof-index). */
#define RP_INDEX_HANDLER "reqprof-index"

/* ReqProfileLog. */
typedef enum {
    RP_LOG_OFF = 0, /* a triggered request's response is its report */
    RP_LOG_ON = 1,  /* every request: response unchanged, a record logged */
    RP_LOG_SLOW = 2 /* the same, kept only when slower than a threshold */
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
    int sample_rate; /* 1 in N requests in log mode; RP_UNSET: 1 */
} rp_dir_conf_t;

typedef struct rp_server_conf {
    int signo;             /* 0: the default */
    int enabled_somewhere; /* ReqProfile On in some context of the server */
    int server_timing;     /* RP_UNSET, 0 or 1 */
    int max_concurrent;    /* per process; 0: the default */
    const char *log_file;  /* NULL: records go to the error log */
    int log_level;         /* RP_UNSET: notice */
    const char *dir;       /* NULL: profiles are not saved */
    int dir_max_count;     /* 0: the default */
    apr_off_t dir_max_bytes;
    apr_file_t *log_fd; /* log_file, opened by open_logs */
} rp_server_conf_t;

/* One request's profile, or its phase timing alone (Server-Timing). An
 * internal redirect or ErrorDocument continues it: one request, one
 * profile. */
typedef struct rp_request {
    rp_sampler_t *sampler; /* NULL: not profiling */
    uint64_t session;
    rp_clock_e clock;
    apr_interval_time_t interval_us;
    rp_format_e format;
    int counted; /* holds one of the process's concurrent profiles */
    int cleanup_registered;
    int tentative;     /* started before the per-directory configuration was
                          known; fixups confirms or cancels it */
    int finished;      /* the report went out */
    int server_timing; /* add a Server-Timing header if not profiled */
    apr_off_t discarded_bytes;
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
    /* Built at the response's end, logged and saved by log_transaction,
     * when the response is out. */
    int pending;
    apr_time_t ended;
    apr_interval_time_t build_us; /* building it took, on the response's path */
    rp_profile_t *profile;
    /* A triggered report as it went out: saved as it is if its format is
     * one ReqProfileDir keeps. */
    rp_format_e report_format;
    const char *report_body;
    apr_size_t report_len;
} rp_request_t;

/* mod_reqprof_config.c */
extern const command_rec rp_directives[];
void *rp_create_dir_conf(apr_pool_t *p, char *dir);
void *rp_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *rp_create_server_conf(apr_pool_t *p, server_rec *s);
void *rp_merge_server_conf(apr_pool_t *p, void *base, void *add);
const rp_dir_conf_t *rp_dir_conf(const request_rec *r);
const char *rp_conf_param(const rp_dir_conf_t *conf);
apr_interval_time_t rp_conf_interval(const rp_dir_conf_t *conf);
rp_clock_e rp_conf_clock(const rp_dir_conf_t *conf);
int rp_conf_signal(const server_rec *s);
int rp_conf_server_timing(const server_rec *s);
/* ReqProfile On appears somewhere in s's configuration files. */
int rp_conf_enabled_somewhere(const server_rec *s);
unsigned rp_conf_max_samples(const rp_dir_conf_t *conf);
apr_interval_time_t rp_conf_max_duration(const rp_dir_conf_t *conf);
int rp_conf_max_concurrent(const server_rec *s);
/* The object patterns whose frames fold into their callers. */
const char *const *rp_conf_collapse(const rp_dir_conf_t *conf, int *count);
rp_log_mode_e rp_conf_log_mode(const rp_dir_conf_t *conf);
apr_interval_time_t rp_conf_log_slow(const rp_dir_conf_t *conf);
unsigned rp_conf_sample_rate(const rp_dir_conf_t *conf);
const rp_server_conf_t *rp_server_conf(const server_rec *s);
int rp_conf_log_level(const server_rec *s);
/* ReqProfileDir (NULL: not saving) and its limits. */
const char *rp_conf_dir(const server_rec *s);
void rp_conf_dir_limits(const server_rec *s, int *max_count,
                        apr_off_t *max_bytes);

/* mod_reqprof.c */
extern rp_symbols_t *rp_process_symbols;
extern const rp_object_module_t *rp_process_modules;
extern int rp_process_module_count;
rp_request_t *rp_request_find(const request_rec *r);
/* The query string the client sent (mod_rewrite may have changed r->args). */
const char *rp_client_query(const request_rec *r);
/* conf's ReqProfileRequire (by default: a loopback client whose request
 * carries no forwarding header, unless mod_remoteip named the client) admits
 * r's client.
 */
int rp_client_allowed(request_rec *r, const rp_dir_conf_t *conf);
/* Closes the running phase at the response's end. */
void rp_request_end_phases(rp_request_t *state);
/* The report is out: stop sampling and give back the profile's slot. */
void rp_request_finish(rp_request_t *state);

/* Holds off the MPM's exit signals while a report is built (see why in
 * mod_reqprof.c); restore with what hold saved. */
void rp_exit_signals_hold(sigset_t *saved);
void rp_exit_signals_restore(const sigset_t *saved);

/* mod_reqprof_output.c */
void rp_output_register(void);
/* Adds the filters the request needs, if any, once. */
void rp_output_insert(request_rec *r, rp_request_t *state);
/* The profile's request and process fields, at the response's end. */
void rp_output_fill_profile(rp_profile_t *p, request_rec *r,
                            const rp_request_t *state);

/* mod_reqprof_cache.c */
void rp_cache_register(void);
/* A report is to be made: mod_cache's handler must not answer. */
void rp_cache_hide_for_handler(request_rec *r);
/* At insert_filter: 1 if a quick handler (mod_cache) answers the request
 * although it carries the trigger. */
int rp_cache_answering(request_rec *r);

/* mod_reqprof_log.c */
/* Opens every server's ReqProfileLogFile (open_logs, in the parent). */
int rp_log_open_files(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *s);
/* Checks ReqProfileDir at startup. */
void rp_log_check_dirs(apr_pool_t *ptemp, server_rec *s);
/* At the response's end in log mode (sampling stopped, on the request's
 * thread): builds the profile if it is to be kept. */
void rp_log_capture(request_rec *r, rp_request_t *state);
/* A triggered report (body, in format) went out: keep it for saving, if
 * ReqProfileDir is set. pool holds the profile's tree. */
void rp_log_keep_report(request_rec *r, rp_request_t *state,
                        rp_profile_t *profile, rp_format_e format,
                        const char *body, apr_size_t len);
/* log_transaction: writes the record and saves the files. */
int rp_log_transaction(request_rec *r);

/* mod_reqprof_index.c */
int rp_index_handler(request_rec *r);

#endif
