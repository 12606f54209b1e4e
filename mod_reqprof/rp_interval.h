/* rp_interval: parsing of the sampling interval directive value. */
#ifndef RP_INTERVAL_H
#define RP_INTERVAL_H

#include <apr_pools.h>
#include <apr_time.h>

#define RP_INTERVAL_MIN_US 50
#define RP_INTERVAL_MAX_US 1000000
#define RP_INTERVAL_DEFAULT_US 1000

/* Parses a duration such as "250us", "1.5ms" or "30s" into microseconds,
 * within [min_us, max_us]. Returns NULL on success, or an error message
 * allocated in pool that names the bad value. */
const char *rp_duration_parse(apr_pool_t *pool, const char *text,
                              apr_interval_time_t min_us,
                              apr_interval_time_t max_us,
                              apr_interval_time_t *out_us);

/* rp_duration_parse within the sampling interval's range, 50us..1s. */
const char *rp_interval_parse(apr_pool_t *pool, const char *text,
                              apr_interval_time_t *out_us);

#endif
