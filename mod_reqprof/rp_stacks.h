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

/* The most time a sum holds, in microseconds (2^46: over two years, more
 * than twenty thousand profiles of an hour each). A line that would take a
 * sum past it is skipped, so no count can overflow and a summed profile
 * has at most 2^14 samples more than it has stacks (a sample's weight
 * holds 2^32 - 1 us). */
#define RP_STACKS_MAX_US ((apr_uint64_t)1 << 46)

/* The lines of profile p, in pool; *len receives their length. Lines come
 * in the order of the profile's tree (sorted by rp_profile_end: heaviest
 * first, ties by name), so the same profile gives the same text. */
const char *rp_stacks_render(const rp_profile_t *p, apr_pool_t *pool,
                             apr_size_t *len);

/* A sum of many profiles' lines. Not thread-safe: one thread adds to a sum
 * and makes its profile (sums share nothing, so threads may each have
 * their own). */
typedef struct rp_stacks_sum rp_stacks_sum_t;

/* An empty sum, in pool (everything it keeps lives there, and so does every
 * profile rp_stacks_sum_profile makes of it). */
rp_stacks_sum_t *rp_stacks_sum_create(apr_pool_t *pool);

/* Adds one profile's lines (text need not end in a newline, nor in a NUL;
 * it is not kept). Returns how many lines were skipped: not a line of the
 * form above (a number of more than 15 digits, a frame that is empty, has
 * control characters or invalid UTF-8, more than RP_STACKS_MAX_DEPTH
 * frames), or past RP_STACKS_MAX_US. Memory grows with the distinct stacks
 * and frames, not with the lines: a stack many profiles share is kept
 * once. */
unsigned rp_stacks_sum_add(rp_stacks_sum_t *sum, const char *text,
                           apr_size_t len);

/* Profiles added, and their total time (us). */
unsigned rp_stacks_sum_profiles(const rp_stacks_sum_t *sum);
apr_uint64_t rp_stacks_sum_total_us(const rp_stacks_sum_t *sum);

/* The sum as a profile whose tree holds every stack with its on-CPU and
 * waiting time, one weight being one microsecond (stats.interval_us 1, so
 * rp_profile_weight_ms gives milliseconds): the renderers draw it as they
 * draw one request's profile. A sum has no time order: its samples (one
 * per stack, on CPU and waiting apart) are all at time 0 in phase 0, every
 * phase is marked not run, stats.wall_ns is the time summed and
 * stats.cpu_ns its on-CPU part. Frames are interned: the same
 * "function [object]" text is the same rp_func_t. The request's fields
 * (method, uri, ...) are left for the caller. May be called again after
 * more lines were added; out lives in the sum's pool. */
void rp_stacks_sum_profile(const rp_stacks_sum_t *sum, rp_profile_t *out);

#endif
