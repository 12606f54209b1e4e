/* Turns a finished request into a profile: fill, hold the exit signals,
 * build the tree, restore, discard the samples. */
#include "mod_reqprof_capture.h"

#include "mod_reqprof_engines.h"

#include "mod_reqprof_config.h"
#include "mod_reqprof_process.h"

#include "http_core.h"
#include "ap_mpm.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The profile's request and process fields, at the response's end. */
static void fill_profile(rp_profile_t *p, request_rec *r,
                         const rp_request_t *state, apr_off_t discarded_bytes)
{
    /* What the client asked for, even if an internal redirect or an
     * ErrorDocument produced the response. */
    const request_rec *initial = r;
    while (initial->prev != NULL) {
        initial = initial->prev;
    }
    p->method = initial->method;
    p->uri = initial->unparsed_uri;
    p->protocol = initial->protocol;
    p->host = r->hostname ? r->hostname : "";
    p->status = r->status;
    p->discarded_bytes = discarded_bytes;
    p->server = ap_get_server_banner();
    p->mpm = ap_show_mpm();
    p->pid = (long)rp_process_pid();
    p->tid = (long)rp_sampler_thread_id(rp_request_sampler(state));
    p->request_started = rp_request_time(state);
    p->started = rp_request_started(state);
    rp_request_phases(state, p->phases);
    p->modules = rp_process_modules(&p->module_count);
    p->script_note = rp_engines_note();
    p->collapse = rp_conf_collapse(rp_dir_conf(r), &p->collapse_count);
    rp_sampler_stats(rp_request_sampler(state), &p->stats);
}

rp_profile_t *rp_capture(request_rec *r, const rp_request_t *state,
                         apr_off_t discarded_bytes, apr_pool_t *pool)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    fill_profile(p, r, state, discarded_bytes);
    rp_exit_hold_t signals;
    rp_request_exit_signals_hold(&signals); /* naming frames: malloc-heavy */
    rp_profile_build_tree(p, rp_request_sampler(state), rp_process_symbols(),
                          pool);
    rp_request_exit_signals_restore(&signals);
    rp_sampler_discard(rp_request_sampler(state));
    return p;
}
