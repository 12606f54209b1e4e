/* rp_tree: the top-down call tree of a profile. Frames are interned
 * function records (rp_func_t), compared by pointer; the tree knows nothing
 * of how they were named, nor of httpd. */
#ifndef RP_TREE_H
#define RP_TREE_H

#include <apr_pools.h>
#include <stdint.h>

#include "rp_symbols.h"

typedef struct rp_node rp_node_t;
struct rp_node {
    const rp_func_t *func; /* NULL for the root */
    rp_node_t *parent;
    rp_node_t *first_child; /* after rp_tree_sort: heaviest first */
    rp_node_t *next_sibling;
    uint64_t total; /* weight of samples through this node */
    uint64_t self;  /* weight of samples that end here */
    uint64_t wait;  /* part of total during which the thread was blocked */
    unsigned depth; /* root is 0 */
};

typedef struct rp_tree {
    apr_pool_t *pool;
    /* (parent, func) -> child: O(1) lookups whatever the fan-out, in an
     * open-addressing table of slot_mask + 1 slots (malloc'd, freed with
     * the pool). */
    rp_node_t **slots;
    size_t slot_mask;
    rp_node_t root;
    unsigned node_count;
    unsigned max_depth;
} rp_tree_t;

rp_tree_t *rp_tree_create(apr_pool_t *pool);

/* Adds one sample: frames[0] is the outermost caller, frames[depth - 1]
 * the innermost function; waiting says the thread was blocked, not on CPU. */
/* Returns the node the sample ends in (the root for an empty stack). */
rp_node_t *rp_tree_add(rp_tree_t *tree, const rp_func_t *const *frames,
                       unsigned depth, uint64_t weight, int waiting);

/* Orders every node's children by total weight, heaviest first (ties by
 * name, so output is stable). */
void rp_tree_sort(rp_tree_t *tree);

/* The least total a node needs to be one of the tree's max_nodes heaviest
 * (the root not counted): 0 when the tree has at most max_nodes nodes
 * besides the root, else one more than the total of the heaviest node left
 * out. A node is never heavier than its caller, so every node that weight
 * keeps has its callers kept too. Visits only the nodes kept and their
 * children, heaviest first; root.total (the top level only) if memory
 * runs out. */
uint64_t rp_tree_min_weight(const rp_tree_t *tree, unsigned max_nodes);

#endif
