#include "rp_profile.h"

static const rp_func_t truncated_frame = {
    .name = RP_TRUNCATED_FRAME, .object = "", .resolved = 1};

void rp_profile_build_tree(rp_profile_t *profile, const rp_sampler_t *sampler,
                           rp_symbols_t *symbols, apr_pool_t *pool)
{
    const rp_func_t *frames[RP_MAX_DEPTH + 1];
    profile->tree = rp_tree_create(pool);
    profile->truncated_stacks = 0;
    for (const rp_sample_t *s = rp_sampler_next(sampler, NULL); s != NULL;
         s = rp_sampler_next(sampler, s)) {
        unsigned n = 0;
        if (s->flags & RP_SAMPLE_TRUNCATED) {
            frames[n++] = &truncated_frame;
            profile->truncated_stacks++;
        }
        /* Samples are innermost first; the tree wants callers first. ips[0]
         * is the interrupted instruction itself, the rest return addresses. */
        for (int i = (int)s->depth - 1; i >= 0; i--) {
            frames[n++] = rp_symbols_lookup(symbols, s->ips[i], i > 0);
        }
        rp_tree_add(profile->tree, frames, n, s->weight);
    }
    rp_tree_sort(profile->tree);
}

double rp_profile_weight_ms(const rp_profile_t *profile, uint64_t weight)
{
    return (double)weight * (double)profile->stats.interval_us / 1000.0;
}
