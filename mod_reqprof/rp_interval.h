/* rp_interval: parsing of the sampling interval directive value. */
#ifndef RP_INTERVAL_H
#define RP_INTERVAL_H

#include <apr_pools.h>
#include <apr_time.h>

#define RP_INTERVAL_MIN_US 50
#define RP_INTERVAL_MAX_US 1000000
#define RP_INTERVAL_DEFAULT_US 1000

/* Parses "250us", "1ms", "1.5ms", "1s" into microseconds. Returns NULL on
 * success, or an error message allocated in pool that names the bad value. */
const char *rp_interval_parse(apr_pool_t *pool, const char *text,
                              apr_interval_time_t *out_us);

#endif
