/* rp_pprof: renders a profile as pprof's profile.proto, gzipped, for
 * `go tool pprof` and the tools that read its format. The protobuf is
 * encoded here by hand and compressed with zlib. Knows nothing of httpd.
 *
 * Sample values: "samples"/"count" (stacks recorded), then with the wall
 * clock "wall"/"nanoseconds" and "cpu"/"nanoseconds" (the intervals the
 * thread was not waiting), or with the cpu clock "cpu"/"nanoseconds" only.
 * The period is the interval in nanoseconds of the clock's type, which is
 * also the default sample type. One location per function; one mapping per
 * shared object (no addresses: every function is already named). Samples
 * with the same stack, phase and waiting state are merged; each carries the
 * string labels "phase" (rp_phase_name) and "waiting" ("true" or "false";
 * not a number: pprof drops numeric labels whose value is 0). */
#ifndef RP_PPROF_H
#define RP_PPROF_H

#include <apr_pools.h>

#include "rp_profile.h"

/* Returns the gzip file (binary: use *len, not strlen), allocated in pool;
 * *len receives its length. Should zlib fail, the protobuf is returned
 * uncompressed, which pprof reads as well. */
const char *rp_pprof_render(const rp_profile_t *profile, apr_pool_t *pool,
                            apr_size_t *len);

#endif
