/* rp_stacks: a profile's stacks as text that many profiles can be summed
 * from, and the sum. One line per stack that samples ended in:
 *
 *     frame;frame;...;leaf CPU_US WAIT_US
 *
 * frames written as rp_collapsed writes them ("function [object]"), then
 * the time the samples that ended exactly there stood for, on CPU and
 * waiting, in whole microseconds (so profiles taken at different
 * intervals add up). Saved with each profile (".stacks"), it is what a
 * route's merged flame graph is built from. Text from a store is hostile:
 * the reader skips what is not a line of this form and never reads past
 * it. Knows nothing of httpd. */
#ifndef RP_STACKS_H
#define RP_STACKS_H

#include <apr_pools.h>

#include "rp_profile.h"
#include "rp_store.h" /* RP_STORE_STACKS, its saved file */

/* The most frames a line may have; a longer one is skipped. */
#define RP_STACKS_MAX_DEPTH 1024

/* The lines of profile p, in pool; *len receives their length. */
const char *rp_stacks_render(const rp_profile_t *p, apr_pool_t *pool,
                             apr_size_t *len);

typedef struct rp_stacks_sum rp_stacks_sum_t;

/* An empty sum, in pool (everything it keeps lives there). */
rp_stacks_sum_t *rp_stacks_sum_create(apr_pool_t *pool);

/* Adds one profile's lines. Returns how many lines were skipped as
 * malformed. */
unsigned rp_stacks_sum_add(rp_stacks_sum_t *sum, const char *text,
                           apr_size_t len);

/* Profiles added, and their total time (us). */
unsigned rp_stacks_sum_profiles(const rp_stacks_sum_t *sum);
apr_uint64_t rp_stacks_sum_total_us(const rp_stacks_sum_t *sum);

/* The sum as a profile whose tree holds every stack with its on-CPU and
 * waiting time, one weight being one microsecond (stats.interval_us 1):
 * the renderers draw it as they draw one request's profile. The request's
 * fields (method, uri, ...) are left for the caller. */
void rp_stacks_sum_profile(const rp_stacks_sum_t *sum, rp_profile_t *out);

#endif
