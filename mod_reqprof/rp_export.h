/* rp_export: the profile model the renderers share (the HTML report and its
 * data, speedscope, JSON, pprof): a table of the distinct functions of a
 * profile, numbered in a stable order, the tree's nodes numbered, the
 * profile's samples in time order and the weight sampled in each phase,
 * derived once per profile (rp_profile_model) and handed to every renderer.
 * Knows nothing of httpd. */
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

/* What the renderers derive from a profile. */
typedef struct rp_model {
    rp_frames_t frames;                 /* of the tree (rp_frames_collect) */
    rp_node_ids_t node_ids;             /* of the tree (rp_node_ids_assign) */
    const rp_profile_sample_t *samples; /* the profile's, in time order */
    unsigned sample_count;
    /* Weight of the samples per phase (phases out of range count as phase
     * 0). */
    uint64_t phase_weight[RP_PHASE_COUNT];

    /* What it was derived from: a profile changed since is derived anew. */
    const rp_tree_t *tree;
    unsigned node_count;
    uint64_t total;
    const rp_profile_sample_t *profile_samples;
    unsigned profile_sample_count;
} rp_model_t;

/* Name and object of the frame that stands for the callees a big profile's
 * reduced copy merges (rp_profile_reduce). */
#define RP_MERGED_FRAME "[lighter callees, merged]"
#define RP_MERGED_OBJECT "[merged]"

/* What rp_profile_reduce merged. */
typedef struct rp_reduction {
    unsigned kept;       /* nodes kept (the root not counted) */
    unsigned merged;     /* nodes merged */
    unsigned groups;     /* merged nodes made: one per caller */
    uint64_t min_weight; /* the least total of a node kept */
} rp_reduction_t;

/* A copy of profile for views that cannot hold every node of a big tree:
 * NULL when its tree has at most max_nodes nodes besides the root (nothing
 * to merge); else its max_nodes heaviest nodes (rp_tree_min_weight) are
 * kept, and the lighter children of each kept node, their subtrees with
 * them, are summed into one child RP_MERGED_FRAME of that node (its total,
 * self and wait the sums of their totals and waits), so every node's total,
 * and the root's, stays exact. Samples that end in a merged node end in its
 * RP_MERGED_FRAME node instead; the rest of the profile is shared. The copy's
 * tree is sorted and takes no more stacks. *out says what was merged. */
const rp_profile_t *rp_profile_reduce(const rp_profile_t *profile,
                                      unsigned max_nodes, apr_pool_t *pool,
                                      rp_reduction_t *out);

/* The model of profile: derived on first use, in the pool of its tree, and
 * kept in profile->model (a cache: the profile is otherwise left as it is);
 * derived again if the tree or the samples changed since. */
const rp_model_t *rp_profile_model(const rp_profile_t *profile);

#endif
