/* Where saved profiles go (ReqProfileStore, ReqProfileDir): the store of
 * each server, made at post_config, closed at child exit, and saving to it
 * with its failures reported in the error log at most once a minute per
 * process (mod_reqprof_store.c). */
#ifndef MOD_REQPROF_STORE_H
#define MOD_REQPROF_STORE_H

#include "mod_reqprof.h"

#include "rp_pstore.h"

/* Hooks post_config and child_init. */
void rp_storage_register(void);

/* The store of r's server, or NULL if it saves nothing. */
rp_pstore_t *rp_storage_of(const request_rec *r);

/* Saves profile id's files (the request started at t) to r's store. A
 * shared store only queues them: this never waits on the network. Returns
 * 1 if saved (or queued). */
int rp_storage_save(request_rec *r, const char *id, apr_time_t t,
                    const rp_store_file_t *files, int count);

#endif
