/* rp_format: the formats a profile is served and saved in, in one table.
 *
 * Each format has its query names (?profile=NAME), how a report in it is
 * served (content type, download extension, Content-Security-Policy), whether
 * and under which name ReqProfileDir keeps it (and the reqprof-index query
 * that serves the saved file), and the function that renders it. The
 * trigger parser, the output filter, saving, the store and the index all read
 * this table: adding a format means a row here and its renderer. Knows
 * nothing of httpd. */
#ifndef RP_FORMAT_H
#define RP_FORMAT_H

#include <apr_pools.h>

#include "rp_profile.h"

typedef enum {
    RP_FORMAT_NONE = 0, /* no trigger, or a value we do not serve */
    RP_FORMAT_HTML,
    RP_FORMAT_TEXT,
    RP_FORMAT_SPEEDSCOPE,
    RP_FORMAT_COLLAPSED,
    RP_FORMAT_PPROF,
    RP_FORMAT_JSON
} rp_format_e;

/* The report's Content-Security-Policy: its script and style are inline. */
#define RP_REPORT_CSP                                                          \
    "default-src 'none'; style-src 'unsafe-inline'; script-src "               \
    "'unsafe-inline'"

/* Renders profile into a buffer allocated from pool; *len receives its
 * length. */
typedef const char *(*rp_render_fn)(const rp_profile_t *profile,
                                    apr_pool_t *pool, apr_size_t *len);

#define RP_FORMAT_MAX_NAMES 3

typedef struct rp_format {
    rp_format_e id;
    /* The trigger's values that ask for it (any case), NULL-terminated. */
    const char *names[RP_FORMAT_MAX_NAMES];
    const char *content_type;
    const char *extension; /* a download's file extension; NULL: inline */
    const char *csp;       /* Content-Security-Policy, or NULL */
    rp_render_fn render;
    /* With "frames=all" in the query (NULL: the same as render). */
    rp_render_fn render_all_frames;
    /* ReqProfileDir keeps it under this file suffix (NULL: not saved), and
     * reqprof-index serves it for ?INDEX_PARAM=ID, in its list under
     * index_label. */
    const char *saved_suffix;
    const char *index_param;
    const char *index_label;
} rp_format_t;

/* The table: *count receives its length. */
const rp_format_t *rp_formats(int *count);

/* The format id, or NULL for RP_FORMAT_NONE and unknown ids. */
const rp_format_t *rp_format_get(rp_format_e id);

/* The format a trigger value names (any case), or RP_FORMAT_NONE. */
rp_format_e rp_format_by_name(const char *name);

/* Renders profile in fmt (all_frames: "frames=all" was asked for). */
const char *rp_format_render(const rp_format_t *fmt,
                             const rp_profile_t *profile, int all_frames,
                             apr_pool_t *pool, apr_size_t *len);

#endif
