/* rp_profile: one profiled request — what was asked, what the sampler saw,
 * and the call tree built from it. Renderers read only this. */
#ifndef RP_PROFILE_H
#define RP_PROFILE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "rp_sampler.h"
#include "rp_symbols.h"
#include "rp_tree.h"

typedef struct rp_profile {
    /* The request, as the client sent it (untrusted: escape on output). */
    const char *method;
    const char *uri;
    const char *protocol;
    const char *host;
    int status;                /* of the original response */
    apr_off_t discarded_bytes; /* original body, swallowed */

    /* Where it ran. */
    const char *server;
    const char *mpm;
    long pid;
    long tid;
    apr_time_t started; /* wall-clock time sampling began */

    rp_sampler_stats_t stats;
    unsigned truncated_stacks; /* samples whose outermost frames are lost */
    rp_tree_t *tree;
} rp_profile_t;

/* Name of the synthetic caller of stacks whose outermost frames are lost. */
#define RP_TRUNCATED_FRAME "[truncated stack]"

/* Symbolizes the sampler's stacks and builds profile->tree in pool. */
void rp_profile_build_tree(rp_profile_t *profile, const rp_sampler_t *sampler,
                           rp_symbols_t *symbols, apr_pool_t *pool);

/* Milliseconds a weight stands for at the profile's interval. */
double rp_profile_weight_ms(const rp_profile_t *profile, uint64_t weight);

#endif
