/* mod_reqprof's httpd glue: what every glue file shares. Each glue file has
 * its own header with its public functions; none reaches into another's
 * state:
 *   mod_reqprof.c          the module record; register_hooks calls each
 *                          file's *_register()
 *   mod_reqprof_config.c   directives and their structures
 *   mod_reqprof_process.c  the child process: sampler, symbol table, exit
 *                          signals
 *   mod_reqprof_decide.c   who may profile a request, and how
 *   mod_reqprof_request.c  each request's state machine: when it is sampled,
 *                          its phase marks
 *   mod_reqprof_capture.c  a finished request's samples into a profile
 *   mod_reqprof_output.c   the output filters and the report's formats
 *   mod_reqprof_log.c      log mode's records and saved profiles
 *   mod_reqprof_index.c    the reqprof-index handler (saved profiles)
 *   mod_reqprof_cache.c    keeping mod_cache from answering a profiled
 *                          request
 * The rp_* files below them know nothing of httpd. */
#ifndef MOD_REQPROF_H
#define MOD_REQPROF_H

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"

extern module AP_MODULE_DECLARE_DATA reqprof_module;

#define RP_LOG_TAG "mod_reqprof: "
#define RP_UNSET -1

/* For the work behind a request hook that most requests leave at its first
 * lines: kept out of the hook, so that those requests do not pay for saving
 * and restoring the registers the work needs. */
#define RP_OUT_OF_LINE __attribute__((noinline))

/* For a request hook's first lines, which every request runs: the compiler
 * places these functions together, so that a request's dozen calls into
 * the module touch a few cache lines of code rather than one or two in
 * each of its files. */
#define RP_HOOK_GATE __attribute__((hot))

/* The handler that lists saved profiles (SetHandler reqprof-index). */
#define RP_INDEX_HANDLER "reqprof-index"

/* The slot of request note `note` (ap_register_request_note) on the request
 * that began this one: an internal redirect or ErrorDocument continues it and
 * finds what earlier phases left there. NULL if httpd keeps no notes for the
 * request. An array slot: much cheaper than the pool's user data, which the
 * hooks of every request would otherwise hash their way into. */
static inline void **rp_initial_note(const request_rec *r, apr_size_t note)
{
    while (r->prev != NULL) {
        r = r->prev;
    }
    return ap_get_request_note((request_rec *)r, note);
}

#endif
