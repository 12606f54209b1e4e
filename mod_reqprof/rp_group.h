/* rp_group: per-route views of the saved profiles. A profile's group is
 * the route it belongs to (ReqProfileGroup; by default its method and
 * path), written in its record. From the records of the profiles stored in
 * a time window, each group's numbers (how many, duration percentiles, the
 * slowest) and the index's pages that show them: the groups table above
 * the list, and a group's own page with links to its merged flame graph
 * and its differential flame graphs. Every string from a request or a
 * store is escaped; group names in links are percent-encoded. Knows
 * nothing of httpd. */
#ifndef RP_GROUP_H
#define RP_GROUP_H

#include <apr_pools.h>

#include "rp_buf.h"
#include "rp_pstore.h"
#include "rp_sidecar.h" /* rp_saved_t */

typedef struct rp_group_stat {
    const char *name;
    int count;
    double p50_ms, p95_ms, p99_ms, max_ms;
    const char *slowest_id;
} rp_group_stat_t;

/* The nearest-rank percentile q (0 < q <= 100) of n values sorted in
 * ascending order; 0 for none. */
double rp_group_percentile(const double *sorted, int n, double q);

/* The groups of items (profiles without a group are left out), slowest
 * first (by their slowest profile). Returns how many. */
int rp_group_stats(const rp_saved_t *items, int count, apr_pool_t *pool,
                   rp_group_stat_t **out);

/* At most n of items, slowest first (a copy; items are left as they are). */
rp_saved_t *rp_group_slowest(const rp_saved_t *items, int count, int n,
                             apr_pool_t *pool, int *out_count);

/* The windows a page offers, in hours; a request's "hours" is one of
 * them, else RP_GROUP_DEFAULT_HOURS. */
#define RP_GROUP_DEFAULT_HOURS 1
int rp_group_hours(const char *text);

/* The groups table of the index page: each group's numbers over the last
 * hours, linking to its page. Writes nothing for no groups. */
void rp_group_render_table(rp_buf_t *b, const rp_group_stat_t *groups,
                           int count, int hours);

/* What a group's page shows. */
typedef struct rp_group_page {
    const char *name;
    int hours;                   /* the window: the last hours */
    const rp_group_stat_t *stat; /* of the window; NULL: no profiles */
    const rp_saved_t *slowest;   /* of the window, slowest first */
    int slowest_count;
    const rp_saved_t *kept; /* the slowest the store keeps past its TTL */
    int kept_count;
    const rp_saved_t *items; /* the window's profiles the filter kept */
    int count;
    const rp_pstore_filter_t *filter;
    const char *note; /* may be NULL */
} rp_group_page_t;

const char *rp_group_render_page(const rp_group_page_t *g, apr_pool_t *pool,
                                 apr_size_t *len);

#endif
