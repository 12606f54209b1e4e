/* Keeping mod_cache from answering a request that asks for a report.
 *
 * A report is made by running the request. Were mod_cache to answer it from
 * what it holds, the client would get the original page: its quick handler
 * runs before any of the request's phases, and in either of its modes it
 * removes every filter ahead of its own, REQPROF among them. So, around
 * mod_cache's decision only, the request carries "Cache-Control: no-store":
 * the client's own way to say "do not answer me from a cache and do not store
 * my response", which mod_cache honours unless CacheIgnoreCacheControl is On.
 * The header is put back as it was as soon as mod_cache has decided, so the
 * handler, CGI scripts and proxied backends see the request as it was sent.
 * This gives a client nothing it could not ask for itself. */
#include "mod_reqprof_cache.h"

#include "mod_reqprof_config.h"
#include "mod_reqprof_decide.h"
#include "mod_reqprof_request.h"

#include "http_request.h"

#include <apr_strings.h>

#define CACHE_CONTROL "Cache-Control"

typedef enum { STAGE_QUICK = 1, STAGE_HANDLER = 2 } mask_stage_e;

typedef struct {
    mask_stage_e stage;
    int active;
    apr_array_header_t *saved; /* the client's Cache-Control values */
} cache_mask_t;

/* The request note that holds the mask (rp_cache_register). */
static apr_size_t mask_note;

/* mod_cache is loaded (decided when the request hooks are registered,
 * once every LoadModule line has been read): without it there is nothing
 * to hide from, the hooks below are not registered and the functions the
 * other glue files call return at once. */
static int cache_loaded = 1;

static cache_mask_t *find_mask(const request_rec *r)
{
    void **note = rp_initial_note(r, mask_note);
    return note != NULL ? *note : NULL;
}

static int save_value(void *saved, const char *key, const char *value)
{
    (void)key;
    *(const char **)apr_array_push(saved) = value;
    return 1;
}

static void hide(request_rec *r, mask_stage_e stage)
{
    if (!cache_loaded) {
        return;
    }
    void **note = rp_initial_note(r, mask_note);
    if (note == NULL) {
        return; /* nowhere to keep what it would put back */
    }
    cache_mask_t *mask = *note;
    if (mask == NULL) {
        mask = apr_pcalloc(r->pool, sizeof(*mask));
        *note = mask;
    }
    if (mask->active) {
        return;
    }
    mask->stage = stage;
    mask->active = 1;
    mask->saved = apr_array_make(r->pool, 1, sizeof(const char *));
    apr_table_do(save_value, mask->saved, r->headers_in, CACHE_CONTROL, NULL);
    apr_table_setn(r->headers_in, CACHE_CONTROL, "no-store");
}

/* Whether r may carry a mask: hide() runs, where mod_cache is loaded, for a
 * request whose client sent the trigger or that is being profiled (it has
 * a state). Three hooks ask on every request, and most requests are
 * neither. */
RP_HOOK_GATE int rp_cache_may_be_masked(const request_rec *r)
{
    return cache_loaded && (rp_request_maybe(r) ||
                            rp_conf_query_may_trigger(rp_client_query(r)));
}

/* Puts the client's Cache-Control back. 1 if it had been hidden. */
static int unhide(request_rec *r, mask_stage_e stage)
{
    if (!rp_conf_requests_wanted() || !rp_cache_may_be_masked(r)) {
        return 0; /* nothing was hidden */
    }
    cache_mask_t *mask = find_mask(r);
    if (mask == NULL || !mask->active || mask->stage != stage) {
        return 0;
    }
    apr_table_unset(r->headers_in, CACHE_CONTROL);
    const char **values = (const char **)mask->saved->elts;
    for (int i = 0; i < mask->saved->nelts; i++) {
        apr_table_addn(r->headers_in, CACHE_CONTROL, values[i]);
    }
    mask->active = 0;
    return 1;
}

/* Before any phase only the server's configuration is known: a request
 * that carries the trigger, where ReqProfile is On somewhere in this server,
 * is kept from the cache if the server's rule (ReqProfileRequire, or the
 * loopback default) admits the client already. A client it refuses is
 * answered exactly as without mod_reqprof. Whether the request is profiled
 * is decided later, by its directory's configuration. */
static RP_HOOK_GATE int hide_before_quick_handler(request_rec *r, int lookup)
{
    if (lookup || r->main != NULL || !rp_conf_requests_wanted() ||
        !rp_conf_enabled_somewhere(r->server)) {
        return DECLINED;
    }
    const rp_dir_conf_t *server_conf = rp_dir_conf(r);
    if (rp_decide_trigger_admitted(r, server_conf)) {
        hide(r, STAGE_QUICK);
    }
    return DECLINED;
}

static RP_HOOK_GATE int unhide_after_quick_handler(request_rec *r, int lookup)
{
    (void)lookup;
    unhide(r, STAGE_QUICK);
    return DECLINED;
}

static RP_HOOK_GATE int unhide_after_cache_handler(request_rec *r)
{
    unhide(r, STAGE_HANDLER);
    return DECLINED;
}

void rp_cache_hide_for_handler(request_rec *r)
{
    hide(r, STAGE_HANDLER);
}

int rp_cache_answering(request_rec *r)
{
    return unhide(r, STAGE_QUICK);
}

void rp_cache_register(void)
{
    mask_note = ap_register_request_note();
}

void rp_cache_register_request_hooks(void)
{
    /* Called while the configuration is read: every LoadModule line has
     * been, so where mod_cache is not loaded its requests pay nothing. */
    cache_loaded = ap_find_linked_module("mod_cache.c") != NULL;
    if (!cache_loaded) {
        return;
    }
    static const char *const cache[] = {"mod_cache.c", NULL};
    ap_hook_quick_handler(hide_before_quick_handler, NULL, cache,
                          APR_HOOK_REALLY_FIRST);
    ap_hook_quick_handler(unhide_after_quick_handler, cache, NULL,
                          APR_HOOK_FIRST);
    ap_hook_handler(unhide_after_cache_handler, cache, NULL,
                    APR_HOOK_REALLY_FIRST);
}
