/* rp_html_data: the profile as the compact JSON document the HTML report's
 * script reads (from <script type="application/json" id="rp-data">), made
 * safe to embed in that element. Knows nothing of httpd.
 *
 * The document (all numbers integers):
 *   {"v":1, "clock":"wall"|"cpu", "interval_us":N,
 *    "t0_us":N            sampling start, since the request began (0 if
 *                         unknown),
 *    "weight":N           total intervals of the samples,
 *    "phases":[name,...]  phase names by number (rp_phase_name),
 *    "spans":[[first_us,total_us]|null,...]  per phase number, from httpd's
 *                         hooks; null for a phase that did not run,
 *    "frames":[[name,object,file,line],...]  functions, by number; object
 *                         and file are numbers in "objects" and "files"
 *                         (file -1 and line 0 where the source is unknown),
 *    "objects":[name,...] shared objects (basenames),
 *    "files":[path,...]   source files,
 *    "nodes":[parent,frame, ...]  the call tree, two numbers per node in
 *                         depth-first order (heaviest first); node 0 is the
 *                         root (-1,-1), a parent comes before its children,
 *    "samples":[dt_us,node,code, ...]  three numbers per sample in time
 *                         order: microseconds since the previous sample (the
 *                         first: since sampling began), the node its stack
 *                         ends in, and weight * 32 + phase * 2 + waiting,
 *    "collapse":[glob,...] the ReqProfileCollapse patterns in force (shown
 *                         to the reader only),
 *    "modules":[[object,module],...]  objects that are httpd modules,
 *    "folded":[object,...] numbers in "objects" of the objects whose frames
 *                         fold into their callers, as rp_collapse decides:
 *                         the script folds exactly these}
 * Totals are not included: the script sums the samples. */
#ifndef RP_HTML_DATA_H
#define RP_HTML_DATA_H

#include <apr_pools.h>

#include "rp_buf.h"
#include "rp_export.h"
#include "rp_profile.h"

#define RP_HTML_DATA_VERSION 1

/* Appends the document of profile, whose model is model, with every '<',
 * '>' and '&' written as \u003c, \u003e and \u0026, so no text from the
 * request or the symbols can end the script element or start a comment in
 * it. */
void rp_html_data(rp_buf_t *b, const rp_profile_t *profile,
                  const rp_model_t *model, apr_pool_t *pool);

#endif
