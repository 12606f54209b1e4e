/* rp_sidecar: a saved profile's sidecar (the .meta file beside it in
 * ReqProfileDir), written and read in one place. The writer turns a profile
 * into the record line (rp_record) and one line per function, the reader
 * (the reqprof-index pages) turns that text back into what it lists and
 * compares; a round trip gives back what was written. The format is
 * described in docs/log-format.md. Knows nothing of httpd. */
#ifndef RP_SIDECAR_H
#define RP_SIDECAR_H

#include <apr_pools.h>

#include "rp_profile.h"
#include "rp_record.h" /* rp_record_info_t */

/* ---- writing ------------------------------------------------------------ */

/* The sidecar of a saved profile: the record line, then one line per
 * function (type=func name object self_ms total_ms), heaviest first, at most
 * RP_RECORD_SIDECAR_FUNCS. Newline-terminated lines; *len its length. */
const char *rp_record_sidecar(const rp_profile_t *p,
                              const rp_record_info_t *info, apr_pool_t *pool,
                              apr_size_t *len);

/* ---- reading ------------------------------------------------------------ */

typedef struct rp_saved_func {
    const char *name;
    const char *object;
    double self_ms;
    double total_ms;
} rp_saved_func_t;

/* A saved profile as its sidecar describes it. Missing fields are "" or 0. */
typedef struct rp_saved {
    const char *id;
    const char *ts;
    const char *mode;
    const char *host;
    const char *method;
    const char *path;
    const char *query; /* NULL: none */
    int status;
    double dur_ms;
    double cpu_ms;
    double wait_ms;
    long samples;
    const char *top1; /* the function with the most self time */
    double top1_pct;
    const char *server; /* the ServerName that served it */
    const char *node;   /* the host name of the machine */
    long pid;
    const char *trace;      /* the W3C trace id the request carried, or "" */
    const char *group;      /* the route (ReqProfileGroup), or "" */
    const char *previous;   /* filled by the caller: the next older profile of
                               the same method, host and path, or NULL */
    rp_saved_func_t *funcs; /* with_funcs only */
    int func_count;
} rp_saved_t;

/* Reads a sidecar (or only its first line, the record) into out. Returns
 * NULL, or a message for a sidecar that is not one. */
const char *rp_saved_parse(const char *text, apr_size_t len, int with_funcs,
                           apr_pool_t *pool, rp_saved_t *out);

#endif
