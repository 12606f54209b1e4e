/* rp_index: the pages of the saved-profile index (SetHandler reqprof-index):
 * the list of saved profiles and the comparison of two, both read from the
 * profiles' sidecars (rp_sidecar). Every string that came from a request or
 * a file is HTML-escaped; the pages need no script. Knows nothing of
 * httpd. */
#ifndef RP_INDEX_H
#define RP_INDEX_H

#include <apr_pools.h>

#include "rp_buf.h"
#include "rp_pstore.h"  /* rp_pstore_filter_t, rp_redis_drop_t */
#include "rp_sidecar.h" /* rp_saved_t */

/* The start of an index page (its style), with title as its heading. */
void rp_index_page_start(rp_buf_t *b, const char *title);

/* The filter form (server, path, status, minimum duration, trace id);
 * with group, it also carries the group and the window (hours). */
void rp_index_filter_form(rp_buf_t *b, const rp_pstore_filter_t *f,
                          const char *group, int hours);

/* The table of saved profiles (A/B radio buttons to compare two). */
void rp_index_rows(rp_buf_t *b, const rp_saved_t *items, int count);

/* Fills each profile's previous (items newest first). */
void rp_saved_link_previous(rp_saved_t *items, int count);

/* The list page, newest first. note (may be NULL) is shown above it. */
const char *rp_index_render_list(const rp_saved_t *items, int count,
                                 const char *note, apr_pool_t *pool,
                                 apr_size_t *len);

/* What the list page shows of a store. */
typedef struct rp_index_list {
    const rp_saved_t *items; /* newest first, those the filter kept */
    int count;
    const char *note;                 /* may be NULL */
    const char *store;                /* the store's name, or NULL */
    const rp_pstore_filter_t *filter; /* shown in the form; may be NULL */
    const rp_redis_drop_t *drops;     /* per host, from a shared store */
    int drop_count;
    const struct rp_group_stat *groups; /* of the last hours (rp_group) */
    int group_count;
    int hours;
} rp_index_list_t;

/* The list page with the filter form, each profile's server, and the
 * profiles hosts could not write to a shared store. */
const char *rp_index_render_list_page(const rp_index_list_t *list,
                                      apr_pool_t *pool, apr_size_t *len);

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
