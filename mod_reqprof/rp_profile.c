#include "rp_profile.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "rp_proc.h"

static const rp_func_t truncated_frame = {
    .name = RP_TRUNCATED_FRAME, .object = "", .resolved = 1};

/* The sampler thread may file a waiting sample before an on-CPU sample it
 * requested earlier: order them by time for the timeline. */
static int earlier_first(const void *a, const void *b)
{
    uint64_t ta = ((const rp_profile_sample_t *)a)->t_ns;
    uint64_t tb = ((const rp_profile_sample_t *)b)->t_ns;
    return ta < tb ? -1 : ta > tb;
}

/* A leaf frame naming the system call a waiting sample was blocked in. */
static const rp_func_t *syscall_frame(apr_hash_t *known, apr_pool_t *pool,
                                      int32_t nr)
{
    rp_func_t *f = apr_hash_get(known, &nr, sizeof(nr));
    if (f == NULL) {
        const char *name = rp_proc_syscall_name(nr);
        f = apr_pcalloc(pool, sizeof(*f));
        f->name = nr == RP_SYSCALL_UNREADABLE ? RP_UNREADABLE_WAIT_FRAME
                  : name ? apr_pstrcat(pool, "[syscall ", name, "]", NULL)
                         : apr_psprintf(pool, "[syscall %d]", nr);
        f->object = "[kernel]";
        f->resolved = 1;
        int32_t *key = apr_pmemdup(pool, &nr, sizeof(nr));
        apr_hash_set(known, key, sizeof(*key), f);
    }
    return f;
}

/* A script frame as a function of the tree: one per name, file and line
 * (an engine may hand out several words for one function). A word is
 * resolved once, not at every sample it appears in. */
typedef struct script_funcs {
    apr_hash_t *by_word; /* uintptr_t -> rp_func_t */
    apr_hash_t *by_name; /* "engine\nname\nfile\nline" -> rp_func_t */
} script_funcs_t;

static const rp_func_t *script_func(script_funcs_t *known, apr_pool_t *pool,
                                    const rp_sampler_t *sampler, uintptr_t word)
{
    rp_func_t *f = apr_hash_get(known->by_word, &word, sizeof(word));
    if (f != NULL) {
        return f;
    }
    rp_script_frame_t sf;
    if (!rp_sampler_script_frame(sampler, word, &sf)) {
        sf.engine = 0;
        sf.internal = 1;
        sf.name = "[script frame lost]";
        sf.file = NULL;
        sf.line = 0;
    }
    const char *key = apr_psprintf(pool, "%d\n%s\n%s\n%d", sf.engine, sf.name,
                                   sf.file ? sf.file : "", sf.line);
    f = apr_hash_get(known->by_name, key, APR_HASH_KEY_STRING);
    if (f == NULL) {
        f = apr_pcalloc(pool, sizeof(*f));
        f->name = apr_pstrdup(pool, sf.name);
        f->object = rp_script_object(sf.engine);
        f->file = sf.file ? apr_pstrdup(pool, sf.file) : NULL;
        f->line = sf.line;
        f->resolved = 1;
        apr_hash_set(known->by_name, key, APR_HASH_KEY_STRING, f);
    }
    apr_hash_set(known->by_word, apr_pmemdup(pool, &word, sizeof(word)),
                 sizeof(word), f);
    return f;
}

void rp_profile_build_tree(rp_profile_t *profile, const rp_sampler_t *sampler,
                           rp_symbols_t *symbols, apr_pool_t *pool)
{
    const rp_func_t *frames[RP_MAX_DEPTH + 2];
    apr_hash_t *syscalls = apr_hash_make(pool);
    script_funcs_t scripts = {apr_hash_make(pool), apr_hash_make(pool)};
    rp_sampler_stats_t stats;
    rp_sampler_stats(sampler, &stats);
    /* The statistics are the sampler's, as the caller filled them in, not
     * the builder's count. */
    rp_sampler_stats_t filled = profile->stats;
    profile->tree = rp_tree_create(pool);
    profile->model = NULL;
    profile->truncated_stacks = 0;
    profile->samples =
        apr_palloc(pool, sizeof(rp_profile_sample_t) * (stats.samples + 1));
    profile->sample_count = 0;
    profile->sample_room = stats.samples + 1;
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
            frames[n++] = rp_script_is_frame(s->ips[i])
                              ? script_func(&scripts, pool, sampler, s->ips[i])
                              : rp_symbols_lookup(symbols, s->ips[i], i > 0);
        }
        int waiting = (s->flags & RP_SAMPLE_WAITING) != 0;
        if (waiting &&
            (s->syscall >= 0 || s->syscall == RP_SYSCALL_UNREADABLE)) {
            frames[n++] = syscall_frame(syscalls, pool, s->syscall);
        }
        rp_stack_t stack = {.frames = frames,
                            .depth = n,
                            .t_ns = s->t_ns,
                            .weight = s->weight,
                            .waiting = waiting,
                            .phase = s->tag,
                            .syscall = s->syscall};
        rp_profile_add_stack(profile, &stack);
    }
    profile->stats = filled;
    rp_profile_end(profile);
}

void rp_profile_begin(rp_profile_t *profile, apr_pool_t *pool)
{
    profile->tree = rp_tree_create(pool);
    profile->model = NULL;
    profile->samples = NULL;
    profile->sample_count = 0;
    profile->sample_room = 0;
    rp_profile_clear_phases(profile);
}

rp_node_t *rp_profile_add_stack(rp_profile_t *p, const rp_stack_t *stack)
{
    int waiting = stack->waiting != 0;
    rp_node_t *leaf = rp_tree_add(p->tree, stack->frames, stack->depth,
                                  stack->weight, waiting);
    if (p->sample_count == p->sample_room) {
        unsigned room = p->sample_room ? p->sample_room * 2 : 64;
        rp_profile_sample_t *grown =
            apr_palloc(p->tree->pool, sizeof(*grown) * room);
        if (p->sample_count > 0) {
            memcpy(grown, p->samples, sizeof(*grown) * p->sample_count);
        }
        p->samples = grown;
        p->sample_room = room;
    }
    rp_profile_sample_t *out = &p->samples[p->sample_count++];
    out->t_ns = stack->t_ns;
    out->weight = stack->weight;
    out->waiting = (uint16_t)waiting;
    out->phase = (uint16_t)(stack->phase < RP_PHASE_COUNT ? stack->phase : 0);
    out->syscall = stack->syscall;
    out->leaf = leaf;
    p->stats.samples++;
    p->stats.weight += stack->weight;
    p->stats.wait_weight += waiting ? stack->weight : 0;
    return leaf;
}

void rp_profile_end(rp_profile_t *p)
{
    rp_tree_sort(p->tree);
    for (unsigned i = 1; i < p->sample_count; i++) {
        if (p->samples[i].t_ns < p->samples[i - 1].t_ns) {
            qsort(p->samples, p->sample_count, sizeof(rp_profile_sample_t),
                  earlier_first);
            break;
        }
    }
}

void rp_profile_clear_phases(rp_profile_t *profile)
{
    for (int i = 0; i < RP_PHASE_COUNT; i++) {
        profile->phases[i].first_us = -1;
        profile->phases[i].total_us = 0;
    }
}

double rp_profile_weight_ms(const rp_profile_t *profile, uint64_t weight)
{
    return (double)weight * (double)profile->stats.interval_us / 1000.0;
}

static const char *wait_method(const rp_sampler_stats_t *st)
{
    if (st->proc_readable) {
        return "waits read from /proc, never interrupted";
    }
    if (st->broken_waits > 0) {
        return "process not dumpable: waits signalled once each until one "
               "could not be restarted, then filed under the last stack known";
    }
    return "process not dumpable: each wait signalled once, its stack "
           "captured and the call restarted";
}

const char *rp_profile_sampling_summary(const rp_profile_t *p, apr_pool_t *pool)
{
    if (p->summed_profiles > 0) {
        return apr_psprintf(pool,
                            "the stacks of %u saved profiles, summed; each "
                            "profile says how it was sampled",
                            p->summed_profiles);
    }
    const rp_sampler_stats_t *st = &p->stats;
    return apr_psprintf(
        pool,
        "%s; %u signals (%u to waiting threads), %u broken calls restarted, "
        "%u broken for good, %u stacks unwound without a signal, %u late "
        "intervals; sampler thread CPU %.3f ms%s%s",
        wait_method(st), st->signals, st->wait_signals,
        st->interrupted_waits - st->broken_waits, st->broken_waits,
        st->remote_unwinds, st->late_intervals,
        (double)st->sampler_cpu_ns / 1e6, p->script_note ? "; " : "",
        p->script_note ? p->script_note : "");
}
