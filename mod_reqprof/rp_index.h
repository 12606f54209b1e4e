/* rp_index: the pages of the saved-profile index (SetHandler reqprof-index):
 * the list of saved profiles and the comparison of two, both read from the
 * profiles' sidecars (rp_record). Every string that came from a request or
 * a file is HTML-escaped; the pages need no script. Knows nothing of
 * httpd. */
#ifndef RP_INDEX_H
#define RP_INDEX_H

#include <apr_pools.h>

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
    const char *previous;   /* filled by the caller: the next older profile of
                               the same method, host and path, or NULL */
    rp_saved_func_t *funcs; /* with_funcs only */
    int func_count;
} rp_saved_t;

/* Reads a sidecar (or only its first line, the record) into out. Returns
 * NULL, or a message for a sidecar that is not one. */
const char *rp_saved_parse(const char *text, apr_size_t len, int with_funcs,
                           apr_pool_t *pool, rp_saved_t *out);

/* Fills each profile's previous (items newest first). */
void rp_saved_link_previous(rp_saved_t *items, int count);

/* The list page, newest first. note (may be NULL) is shown above it. */
const char *rp_index_render_list(const rp_saved_t *items, int count,
                                 const char *note, apr_pool_t *pool,
                                 apr_size_t *len);

/* Rows of a comparison: one per function of either profile. */
typedef struct rp_compare_row {
    const char *name;
    const char *object;
    double self_a, self_b;
    double total_a, total_b;
} rp_compare_row_t;

/* Matches the functions of a and b by name and object; rows sorted by the
 * growth of self time (b - a), largest first, then by inclusive growth. */
int rp_compare_rows(const rp_saved_t *a, const rp_saved_t *b, apr_pool_t *pool,
                    rp_compare_row_t **rows);

/* The comparison page: a is the baseline, b the profile compared to it. */
const char *rp_index_render_compare(const rp_saved_t *a, const rp_saved_t *b,
                                    apr_pool_t *pool, apr_size_t *len);

#endif
