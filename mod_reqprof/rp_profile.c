#include "rp_profile.h"

#include <apr_hash.h>
#include <apr_strings.h>

#include "rp_proc.h"

static const rp_func_t truncated_frame = {
    .name = RP_TRUNCATED_FRAME, .object = "", .resolved = 1};

/* A leaf frame naming the system call a waiting sample was blocked in. */
static const rp_func_t *syscall_frame(apr_hash_t *known, apr_pool_t *pool,
                                      int32_t nr)
{
    rp_func_t *f = apr_hash_get(known, &nr, sizeof(nr));
    if (f == NULL) {
        const char *name = rp_proc_syscall_name(nr);
        f = apr_pcalloc(pool, sizeof(*f));
        f->name = name ? apr_pstrcat(pool, "[syscall ", name, "]", NULL)
                       : apr_psprintf(pool, "[syscall %d]", nr);
        f->object = "[kernel]";
        f->resolved = 1;
        int32_t *key = apr_pmemdup(pool, &nr, sizeof(nr));
        apr_hash_set(known, key, sizeof(*key), f);
    }
    return f;
}

void rp_profile_build_tree(rp_profile_t *profile, const rp_sampler_t *sampler,
                           rp_symbols_t *symbols, apr_pool_t *pool)
{
    const rp_func_t *frames[RP_MAX_DEPTH + 2];
    apr_hash_t *syscalls = apr_hash_make(pool);
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
        int waiting = (s->flags & RP_SAMPLE_WAITING) != 0;
        if (waiting && s->syscall >= 0) {
            frames[n++] = syscall_frame(syscalls, pool, s->syscall);
        }
        rp_tree_add(profile->tree, frames, n, s->weight, waiting);
    }
    rp_tree_sort(profile->tree);
}

double rp_profile_weight_ms(const rp_profile_t *profile, uint64_t weight)
{
    return (double)weight * (double)profile->stats.interval_us / 1000.0;
}
