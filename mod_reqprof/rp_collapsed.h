/* rp_collapsed: renders a profile as Brendan Gregg's folded stacks, the input
 * of flamegraph.pl, inferno and speedscope: one line per distinct stack,
 * "outermost;caller;...;leaf count", count being the weight (intervals) of
 * the samples that ended exactly there. Knows nothing of httpd. */
#ifndef RP_COLLAPSED_H
#define RP_COLLAPSED_H

#include <apr_pools.h>

#include "rp_buf.h"
#include "rp_profile.h"

/* Frame name of samples whose stack is empty. */
#define RP_COLLAPSED_EMPTY_STACK "[no stack]"

/* Appends one frame as the lines write it: "function [object]". */
void rp_collapsed_frame(rp_buf_t *b, const rp_func_t *f);

/* Called for each stack that samples ended in: stack (len bytes, its
 * frames as the lines write them) and the node it ends at. */
typedef void (*rp_collapsed_line_f)(void *ctx, const char *stack,
                                    apr_size_t len, const rp_node_t *node);

/* Calls line for the empty stack (RP_COLLAPSED_EMPTY_STACK, the root) if
 * samples ended there, then for every node with self weight, depth first
 * in the tree's order. Scratch in pool. */
void rp_collapsed_walk(const rp_tree_t *tree, apr_pool_t *pool,
                       rp_collapsed_line_f line, void *ctx);

/* Returns the lines (each ending in '\n'), allocated in pool; *len receives
 * their length. An empty profile gives an empty string. */
const char *rp_collapsed_render(const rp_profile_t *profile, apr_pool_t *pool,
                                apr_size_t *len);

#endif
