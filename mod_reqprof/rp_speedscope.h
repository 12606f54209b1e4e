/* rp_speedscope: renders a profile as a speedscope file (the format of
 * https://www.speedscope.app/file-format-schema.json): one "sampled" profile
 * whose samples are the request's stacks in time order, weighted in
 * milliseconds, over a shared frame table. Knows nothing of httpd. */
#ifndef RP_SPEEDSCOPE_H
#define RP_SPEEDSCOPE_H

#include <apr_pools.h>

#include "rp_profile.h"

/* Returns the JSON document (UTF-8), allocated in pool; *len receives its
 * length. */
const char *rp_speedscope_render(const rp_profile_t *profile, apr_pool_t *pool,
                                 apr_size_t *len);

#endif
