/* Keeping mod_cache from answering a request that asks for a report
 * (mod_reqprof_cache.c). */
#ifndef MOD_REQPROF_CACHE_H
#define MOD_REQPROF_CACHE_H

#include "mod_reqprof.h"

/* Hooks around mod_cache's quick handler and handler. */
void rp_cache_register(void);
/* A report is to be made: mod_cache's handler must not answer. */
void rp_cache_hide_for_handler(request_rec *r);
/* At insert_filter: 1 if a quick handler (mod_cache) answers the request
 * although it carries the trigger. */
int rp_cache_answering(request_rec *r);

#endif
