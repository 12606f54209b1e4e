/* mod_reqprof's httpd glue, shared by its three files:
 *   mod_reqprof.c         the module, its hooks, each request's state
 *   mod_reqprof_config.c  directives
 *   mod_reqprof_output.c  the output filters and the report's formats
 * The rp_* files below them know nothing of httpd. */
#ifndef MOD_REQPROF_H
#define MOD_REQPROF_H

#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"

#include "rp_phase.h"
#include "rp_profile.h"
#include "rp_sampler.h"
#include "rp_symbols.h"
#include "rp_trigger.h"

extern module AP_MODULE_DECLARE_DATA reqprof_module;

#define RP_LOG_TAG "mod_reqprof: "
#define RP_UNSET -1

typedef struct rp_dir_conf {
    int enabled;
    apr_interval_time_t interval_us;
    int clock;
    const char *param;
    ap_expr_info_t *require; /* unset: loopback clients only */
    int require_set;
    int max_samples;
    apr_interval_time_t max_duration_us;
    apr_array_header_t *collapse; /* of const char *; NULL: the default */
} rp_dir_conf_t;

typedef struct rp_server_conf {
    int signo;         /* 0: the default */
    int server_timing; /* RP_UNSET, 0 or 1 */
    int max_concurrent; /* per process; 0: the default */
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
    int counted;   /* holds one of the process's concurrent profiles */
    int cleanup_registered;
    int tentative; /* started before the per-directory configuration was
                      known; fixups confirms or cancels it */
    int finished;  /* the report went out */
    int server_timing; /* add a Server-Timing header if not profiled */
    apr_off_t discarded_bytes;
    apr_time_t request_time;
    apr_time_t started;
    rp_phase_e phase; /* the phase running now */
    apr_time_t phase_since;
    rp_phase_span_t phases[RP_PHASE_COUNT];
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
unsigned rp_conf_max_samples(const rp_dir_conf_t *conf);
apr_interval_time_t rp_conf_max_duration(const rp_dir_conf_t *conf);
int rp_conf_max_concurrent(const server_rec *s);
/* The object patterns whose frames fold into their callers. */
const char *const *rp_conf_collapse(const rp_dir_conf_t *conf, int *count);

/* mod_reqprof.c */
extern rp_symbols_t *rp_process_symbols;
extern const rp_object_module_t *rp_process_modules;
extern int rp_process_module_count;
rp_request_t *rp_request_find(const request_rec *r);
/* Closes the running phase at the response's end. */
void rp_request_end_phases(rp_request_t *state);
/* The report is out: stop sampling and give back the profile's slot. */
void rp_request_finish(rp_request_t *state);

/* mod_reqprof_output.c */
void rp_output_register(void);
/* Adds the filter the request needs, if any, once. */
void rp_output_insert(request_rec *r, rp_request_t *state);

#endif
