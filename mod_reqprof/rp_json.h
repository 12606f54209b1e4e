/* rp_json: renders a profile as mod_reqprof's own JSON document (described
 * in docs/json-format.md): the request summary, the sampling statistics,
 * httpd's phases, a frame table, the call tree and every sample. Knows
 * nothing of httpd. */
#ifndef RP_JSON_H
#define RP_JSON_H

#include <apr_pools.h>

#include "rp_profile.h"

/* The "version" member; raised when a member changes meaning or goes. */
#define RP_JSON_VERSION 1

/* Returns the JSON document (UTF-8), allocated in pool; *len receives its
 * length. */
const char *rp_json_render(const rp_profile_t *profile, apr_pool_t *pool,
                           apr_size_t *len);

#endif
