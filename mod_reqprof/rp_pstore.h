/* rp_pstore: where saved profiles live, behind one interface — save, list
 * (with filters), fetch, prune — with two implementations: a directory of
 * this server (rp_store) and a Redis a fleet shares (rp_redis). The glue
 * saves, and the index lists and opens, without knowing which. Knows
 * nothing of httpd. */
#ifndef RP_PSTORE_H
#define RP_PSTORE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rp_redis.h"
#include "rp_sidecar.h" /* rp_saved_t */
#include "rp_store.h"

typedef struct rp_pstore rp_pstore_t;

/* A directory store keeping at most max_count profiles and max_bytes. */
rp_pstore_t *rp_pstore_dir(const char *dir, int max_count, apr_off_t max_bytes,
                           apr_pool_t *pool);

/* A Redis store; its writer (the thread) is made when first saved to. */
rp_pstore_t *rp_pstore_redis(const rp_redis_conf_t *conf, apr_pool_t *pool);

/* "dir:/var/..." or "redis://host:port/db", for messages. */
const char *rp_pstore_name(const rp_pstore_t *s);
int rp_pstore_is_shared(const rp_pstore_t *s);

/* Saves profile id (its request started at t). The directory writes now
 * and applies its limits; Redis queues the profile and returns at once
 * (APR_EAGAIN: dropped, the queue was full). *error says why on failure. */
apr_status_t rp_pstore_save(rp_pstore_t *s, const char *id, apr_time_t t,
                            const rp_store_file_t *files, int count,
                            apr_pool_t *pool, const char **error);

/* What a listing keeps. Unset fields (NULL, 0) do not filter. */
typedef struct rp_pstore_filter {
    const char *server; /* the record's server or node, exactly */
    const char *path;   /* a part of the path */
    int status;
    double min_ms;
    const char *trace; /* a W3C trace id, exactly */
    const char *group; /* the record's group (ReqProfileGroup), exactly */
    apr_time_t since;  /* requests that started at or after this */
    apr_time_t until;  /* ... and before this */
} rp_pstore_filter_t;

int rp_pstore_filter_match(const rp_pstore_filter_t *f, const rp_saved_t *p);

/* The newest profiles that match (at most max), newest first, read from
 * their sidecars (ids filled). *scanned receives how many were read;
 * *error says why on failure (then *items is empty). */
apr_status_t rp_pstore_list(rp_pstore_t *s, const rp_pstore_filter_t *filter,
                            int max, apr_pool_t *pool, rp_saved_t **items,
                            int *count, int *scanned, const char **error);

/* The slowest profiles of group that a shared store keeps past its TTL
 * and limit (ReqProfileGroupWorst), slowest first; none for a directory. */
apr_status_t rp_pstore_kept(rp_pstore_t *s, const char *group, apr_pool_t *pool,
                            rp_saved_t **items, int *count, const char **error);

/* One saved file of profile id (suffix: RP_STORE_META, a format's
 * saved_suffix), NUL-terminated. APR_ENOENT if there is none (or the id is
 * not one the module makes), APR_ENOMEM if larger than max. */
apr_status_t rp_pstore_fetch(rp_pstore_t *s, const char *id, const char *suffix,
                             apr_size_t max, apr_pool_t *pool, char **data,
                             apr_size_t *len, const char **error);

/* rp_pstore_fetch of many profiles at once (for a shared store, on one
 * connection): got is called with each that is there, in the order of ids;
 * a missing or too large one is skipped. */
apr_status_t rp_pstore_fetch_each(rp_pstore_t *s, const char *const *ids,
                                  int count, const char *suffix, apr_size_t max,
                                  rp_redis_fetched_f got, void *ctx,
                                  apr_pool_t *pool, const char **error);

/* Profiles this process could not save to a shared store, and what its
 * writer last said (NULL if nothing new). */
void rp_pstore_stats(rp_pstore_t *s, rp_redis_stats_t *stats);
const char *rp_pstore_take_error(rp_pstore_t *s, apr_pool_t *pool);

/* Drop counts per host, as the shared store keeps them (empty for a
 * directory). */
apr_status_t rp_pstore_drops(rp_pstore_t *s, apr_pool_t *pool,
                             apr_array_header_t **drops, const char **error);

/* Ends the writer (child exit): queued profiles get until deadline.
 * Returns how many profiles were lost without being counted in the store's
 * drop counts (0 for a directory). */
unsigned long rp_pstore_close(rp_pstore_t *s, apr_interval_time_t deadline);

#endif
