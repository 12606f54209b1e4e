/* rp_text: renders a profile as plain text for a terminal, like
 * pyinstrument's console output: a short header, then the call tree with
 * box-drawing guides, frames under 0.5 % of the total folded into one line
 * per parent. Every string from the request or the symbols is made safe to
 * print (no control characters, valid UTF-8). Knows nothing of httpd.
 *
 * Library frames fold as in the HTML report's default view: a frame of an
 * object the profile's collapse rule names (rp_collapse) counts in its
 * nearest caller that is not folded, whose row ends in "  +object, ..."
 * (the objects folded into it), and callees that then share a function
 * merge; stacks with no such caller count in one "[folded frames only]" row
 * under the root, the folded objects in its object's place. A "Folded:"
 * header line names the objects folded; with nothing folded the text is the
 * full tree and has no such line. */
#ifndef RP_TEXT_H
#define RP_TEXT_H

#include <apr_pools.h>

#include "rp_profile.h"

/* Nodes whose inclusive time is below this share of the total (in per
 * mille) are folded into a "… N smaller frames" line. */
#define RP_TEXT_PRUNE_PERMILLE 5

/* Returns the text (UTF-8, newline-terminated lines), allocated in pool;
 * *len receives its length. */
const char *rp_text_render(const rp_profile_t *profile, apr_pool_t *pool,
                           apr_size_t *len);

/* The same with every frame, nothing folded by the collapse rule (what
 * "frames=all" asks for). */
const char *rp_text_render_all_frames(const rp_profile_t *profile,
                                      apr_pool_t *pool, apr_size_t *len);

#endif
