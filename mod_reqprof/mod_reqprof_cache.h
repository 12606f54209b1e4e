/* Keeping mod_cache from answering a request that asks for a report
 * (mod_reqprof_cache.c). */
#ifndef MOD_REQPROF_CACHE_H
#define MOD_REQPROF_CACHE_H

#include "mod_reqprof.h"

/* The mask's request note. */
void rp_cache_register(void);
/* Hooks around mod_cache's quick handler and handler, where it is loaded. */
void rp_cache_register_request_hooks(void);
/* A report is to be made: mod_cache's handler must not answer. */
void rp_cache_hide_for_handler(request_rec *r);
/* At insert_filter: 1 if a quick handler (mod_cache) answers the request
 * although it carries the trigger. */
int rp_cache_answering(request_rec *r);
/* 0 if r cannot have had the client's Cache-Control hidden (no mod_cache,
 * or neither a trigger nor a state): rp_cache_answering has nothing to
 * find. */
int rp_cache_may_be_masked(const request_rec *r);

#endif
