/* rp_export: what the export renderers (speedscope, JSON, pprof) share: a
 * table of the distinct functions of a profile, numbered in a stable order,
 * and the profile's samples in time order. Knows nothing of httpd. */
#ifndef RP_EXPORT_H
#define RP_EXPORT_H

#include <apr_hash.h>
#include <apr_pools.h>

#include "rp_profile.h"

typedef struct rp_frames {
    const rp_func_t **funcs; /* funcs[i] is frame i */
    unsigned count;
    apr_hash_t *index; /* function pointer -> i + 1 */
} rp_frames_t;

/* Numbers every function of the tree once, in depth-first order of the
 * (sorted) tree, so the heaviest path comes first. */
void rp_frames_collect(rp_frames_t *frames, const rp_tree_t *tree,
                       apr_pool_t *pool);

/* The frame number of f, or -1 if it is not in the table. */
int rp_frames_index(const rp_frames_t *frames, const rp_func_t *f);

/* Every node of a tree numbered in depth-first order, the root 0: the order
 * in which the JSON and the report's data list the nodes. */
typedef struct rp_node_ids {
    apr_hash_t *index; /* node pointer -> number + 1 */
} rp_node_ids_t;

void rp_node_ids_assign(rp_node_ids_t *ids, const rp_tree_t *tree,
                        apr_pool_t *pool);

/* The number of node; of the root for NULL (a sample with an empty stack)
 * or a node of another tree. */
unsigned rp_node_id(const rp_node_ids_t *ids, const rp_node_t *node);

/* The profile's samples in time order. A profile that has a tree but no
 * sample records (built by hand, or by a caller that only fills the tree)
 * gets one synthetic sample per stack instead: the node's self weight, split
 * into an on-CPU and a waiting sample where it waited, at phase "other",
 * without a system call, laid end to end in time. Returns the count. */
unsigned rp_export_samples(const rp_profile_t *profile, apr_pool_t *pool,
                           const rp_profile_sample_t **samples);

#endif
