/* rp_fold: the profile as its folded views show it. The frames of objects
 * that match the profile's collapse patterns (ReqProfileCollapse: libc,
 * APR, the engines' C) fold into their nearest caller that does not match,
 * which is what the text report's tree and the functions of log records
 * and sidecars count. Both views are built here, on one decision per
 * function and profile (kept on the profile's model), so that they fold
 * the same frames. Knows nothing of httpd. */
#ifndef RP_FOLD_H
#define RP_FOLD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <stdint.h>

#include "rp_profile.h"

/* Whether f's frames fold into their callers in p (its object matches one
 * of p's collapse patterns). */
int rp_fold_folds(const rp_profile_t *p, const rp_func_t *f);

/* ---- the folded tree (the text report) --------------------------------- */

/* Name of the node that sums the folded frames with no caller to fold
 * into. */
#define RP_FOLDED_ONLY_FRAME "[folded frames only]"

/* A node of the folded tree. A frame that folds counts in the node of its
 * nearest caller that does not, and callees that then share a function
 * merge; frames with no such caller count in one node under the root whose
 * func is NULL (RP_FOLDED_ONLY_FRAME). */
typedef struct rp_fold_node rp_fold_node_t;
struct rp_fold_node {
    const rp_func_t *func;       /* NULL: the root, or the folded-only node */
    rp_fold_node_t *first_child; /* heaviest first */
    rp_fold_node_t *last_child;
    rp_fold_node_t *next_sibling;
    unsigned child_count;
    unsigned seq;               /* creation order: ties keep the tree's order */
    uint64_t total;             /* weight of samples through it */
    uint64_t wait;              /* part of total while blocked */
    apr_array_header_t *hidden; /* objects folded into it (const char *) */
};

typedef struct rp_fold_tree {
    rp_fold_node_t root;
    /* The objects folded anywhere, first met first; NULL if none. */
    apr_array_header_t *folded;
} rp_fold_tree_t;

/* Builds the folded tree of p in pool, sorted as rp_tree_sort orders the
 * tree (heaviest first, then by name, then in the tree's order). fold 0, or
 * a profile without collapse patterns: the tree itself, nothing folded. */
void rp_fold_tree_build(rp_fold_tree_t *t, const rp_profile_t *p, int fold,
                        apr_pool_t *pool);

/* ---- per function (log records, sidecars) ------------------------------ */

typedef struct rp_func_stat {
    const char *name;
    const char *object;
    uint64_t self;  /* weight of the samples that end in it */
    uint64_t total; /* weight of the samples with it on the stack (a
                       recursive function counts each sample once) */
} rp_func_stat_t;

/* Per-function totals of p's tree with folded frames counted in their
 * nearest caller that does not fold. A folded frame with no such caller,
 * which the folded tree sums into its folded-only node, counts as itself
 * here: a record names functions, and this one has no caller to name.
 * Heaviest inclusive first (ties: more self time, then by name, then by
 * object). Returns the count; *out in pool. */
unsigned rp_fold_funcs(const rp_profile_t *p, apr_pool_t *pool,
                       rp_func_stat_t **out);

/* rp_fold_funcs' order, for qsort of rp_func_stat_t. */
int rp_fold_heavier_total(const void *a, const void *b);

#endif
