/* rp_profile: one profiled request — what was asked, what the sampler saw,
 * and the call tree built from it. Renderers read only this. */
#ifndef RP_PROFILE_H
#define RP_PROFILE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "rp_phase.h"
#include "rp_sampler.h"
#include "rp_symbols.h"
#include "rp_tree.h"

/* One sample, for views over time (timeline) and per-sample exports. */
typedef struct rp_profile_sample {
    uint64_t t_ns;         /* since sampling began */
    uint32_t weight;       /* intervals it stands for */
    uint16_t waiting;      /* the thread was blocked */
    uint16_t phase;        /* rp_phase_e when it was taken */
    int32_t syscall;       /* waited in, or -1 */
    const rp_node_t *leaf; /* its stack: this node up to the root */
} rp_profile_sample_t;

/* Time spent in one request phase, from hooks at its edges. */
typedef struct rp_phase_span {
    apr_interval_time_t first_us; /* first entry, since the request began;
                                     -1 if the phase did not run */
    apr_interval_time_t total_us; /* summed over its entries */
} rp_phase_span_t;

/* A shared object that is an httpd module: mod_proxy.so is proxy_module. */
typedef struct rp_object_module {
    const char *object; /* basename, as in rp_func_t.object */
    const char *module; /* the module's name in LoadModule */
} rp_object_module_t;

typedef struct rp_profile {
    /* The request, as the client sent it (untrusted: escape on output). */
    const char *method;
    const char *uri;
    const char *protocol;
    const char *host;
    int status;                /* of the original response */
    apr_off_t discarded_bytes; /* original body, swallowed */
    int aborted; /* the client's connection was lost before the response
                    was complete (httpd's %X is X): known when the request is
                    logged, so only records and sidecars say it */

    /* Where it ran. */
    const char *server;
    const char *mpm;
    long pid;
    long tid;
    apr_time_t request_started; /* when httpd read the request line */
    apr_time_t started;         /* when sampling began */

    rp_sampler_stats_t stats;
    /* A route's profile: the stacks of this many saved profiles, summed
     * (0: one request's). stats then says nothing of how they were
     * sampled: each saved profile does. */
    unsigned summed_profiles;
    unsigned truncated_stacks; /* samples whose outermost frames are lost */
    /* Why a script engine of the process (PHP) was not read, or NULL. */
    const char *script_note;
    rp_tree_t *tree;
    rp_profile_sample_t *samples; /* in time order */
    unsigned sample_count;
    unsigned sample_room; /* samples' allocated length (rp_profile_add_stack) */
    rp_phase_span_t phases[RP_PHASE_COUNT];

    /* For the views: which objects are httpd modules, and which objects'
     * frames fold into their callers by default (shell globs such as
     * "libc.so*", from ReqProfileCollapse). */
    const rp_object_module_t *modules;
    int module_count;
    const char *const *collapse;
    int collapse_count;

    /* What the renderers derive from the tree and the samples (rp_export:
     * rp_profile_model), computed on first use and kept here; NULL until
     * then. Not to be set by hand. */
    struct rp_model *model;
    /* Which functions fold into their callers (rp_fold), decided on first
     * use and kept here, like the model. */
    struct rp_fold_decisions *fold_decisions;
} rp_profile_t;

/* Leaf of a wait /proc could not show: the frames above it are the stack
 * last seen on CPU, where the thread was before it blocked. */
#define RP_UNREADABLE_WAIT_FRAME                                               \
    "[waiting: stack not readable, last seen on CPU above]"

/* Name of the synthetic caller of stacks whose outermost frames are lost. */
#define RP_TRUNCATED_FRAME "[truncated stack]"

/* Symbolizes the sampler's stacks and builds profile->tree and
 * profile->samples in pool. */
void rp_profile_build_tree(rp_profile_t *profile, const rp_sampler_t *sampler,
                           rp_symbols_t *symbols, apr_pool_t *pool);

/* ---- building a profile stack by stack ----------------------------------
 * What rp_profile_build_tree does from the sampler's stacks, for stacks
 * given by hand (tests, fuzzers, the bench): rp_profile_begin, then
 * rp_profile_add_stack per sample, then rp_profile_end. */

/* Gives profile an empty tree and no samples, in pool, and marks every
 * phase as not run; the request's fields are left as they are. */
void rp_profile_begin(rp_profile_t *profile, apr_pool_t *pool);

/* One sample: its stack (frames[0] the outermost caller, frames[depth - 1]
 * the innermost function; depth 0 for an empty stack), taken t_ns after
 * sampling began, standing for weight intervals, in phase (rp_phase_e),
 * waiting or on CPU, and if waiting in system call syscall (else -1). It is
 * added to the tree, the sample records and the statistics (samples,
 * weight, wait_weight). Returns the node it ends in. */
typedef struct rp_stack {
    const rp_func_t *const *frames;
    unsigned depth;
    uint64_t t_ns;
    uint32_t weight;
    int waiting;
    unsigned phase;
    int32_t syscall;
} rp_stack_t;

rp_node_t *rp_profile_add_stack(rp_profile_t *profile, const rp_stack_t *stack);

/* Sorts the tree (heaviest first) and the samples (by time). */
void rp_profile_end(rp_profile_t *profile);

/* Marks every phase as not run. */
void rp_profile_clear_phases(rp_profile_t *profile);

/* One line on how the samples were taken (which path waits took, signals,
 * unwinds, late intervals, the sampler thread's CPU), for the renderers. */
const char *rp_profile_sampling_summary(const rp_profile_t *profile,
                                        apr_pool_t *pool);

/* Milliseconds a weight stands for at the profile's interval. */
double rp_profile_weight_ms(const rp_profile_t *profile, uint64_t weight);

#endif
