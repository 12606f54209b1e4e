/* rp_html: renders a profile as one self-contained HTML page (no external
 * script, style or font). Knows nothing of httpd. */
#ifndef RP_HTML_H
#define RP_HTML_H

#include <apr_pools.h>

#include "rp_profile.h"

/* Returns the page, allocated in pool; *len receives its length. */
const char *rp_html_render(const rp_profile_t *profile, apr_pool_t *pool,
                           apr_size_t *len);

#endif
