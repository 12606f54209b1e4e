/* rp_diffgraph: a differential flame graph of two profiles — before and
 * after: two windows of a route, or a route and one of its requests — as
 * one self-contained HTML page with an inline SVG (no script). Each frame
 * is as wide as its share of the two profiles' time together, so a frame
 * of one side only still shows; its colour is the change of its share of
 * its side's total (each side measured against its own total, so windows
 * with different request counts compare fairly): red where it grew, blue
 * where it shrank, the stronger the larger the change; frames of one side
 * only are outlined and say so. Under the graph, the functions by the
 * change of their self time's share. Every name is escaped. Knows nothing
 * of httpd. */
#ifndef RP_DIFFGRAPH_H
#define RP_DIFFGRAPH_H

#include <apr_pools.h>

#include "rp_profile.h"

/* What the page says of itself and of each side (text from requests and
 * the store: escaped). labels, or any of its fields, may be NULL. The glue
 * declares this on its stack and sets every field: a field added here must
 * be set there. */
typedef struct rp_diffgraph_labels {
    const char *title;
    const char *before; /* what the "before" side is, e.g. "the hour
                           before, 120 profiles" */
    const char *after;
} rp_diffgraph_labels_t;

/* Frames narrower than this share of the graph are left out, with their
 * callees; the page says how many. */
#define RP_DIFFGRAPH_MIN_SHARE 0.001

/* Rows of the functions table at most: the half with the largest growth
 * and the half with the largest shrinkage; the page says how many of the
 * smaller changes between were left out. */
#define RP_DIFFGRAPH_MAX_FUNCTIONS 200

/* The page, in pool; *len receives its length. Each side's shares are of
 * its own total, times in milliseconds at its own interval
 * (rp_profile_weight_ms). A side without samples gives a page that says
 * so, with no graph. Reads the profiles' trees only. */
const char *rp_diffgraph_render(const rp_profile_t *before,
                                const rp_profile_t *after,
                                const rp_diffgraph_labels_t *labels,
                                apr_pool_t *pool, apr_size_t *len);

#endif
