/* rp_redis: saved profiles in a Redis that a fleet of servers shares.
 *
 * Layout (PREFIX is "reqprof:"):
 *   PREFIX p:ID      a hash, one field per saved file (".meta", ".html",
 *                    ".speedscope.json"; compressed from 1 KB on) and
 *                    ".record", the sidecar's first line (what a listing
 *                    reads, as it is), expiring after the TTL
 *   PREFIX index     a sorted set of ids scored by the request's start (ms),
 *                    trimmed to the TTL and to the newest max_profiles; a
 *                    profile trimmed away is deleted with it
 *   PREFIX dropped   a hash: process (host/pid/start ms) -> profiles that
 *                    process could not write (the store was down, slow or
 *                    its queue full), set once the store answers again
 *   PREFIX dropped-at  a sorted set: process -> when its count was last
 *                    set (ms); counts not set for the TTL are removed
 *   PREFIX w:GROUP   a sorted set: the slowest profiles of a group (id ->
 *                    duration, ms), at most worst_per_group; they are kept
 *                    RP_REDIS_WORST_KEPT_TTLS times the TTL, past trimming,
 *                    until slower ones push them out (p:ID has ".group")
 *   PREFIX gone:ID   a write whose answer never came and that Redis had
 *                    not carried out when asked: it is counted dropped,
 *                    and the write does nothing should it arrive later
 * One profile is written by one script (EVAL), so the index never names a
 * profile whose files are not all there. Each drop is counted once: a
 * write that got no answer is settled by asking Redis, and a process sets
 * its absolute count, so a count sent twice adds nothing.
 *
 * Writing never waits on Redis: a process submits profiles to a bounded
 * queue and one writer thread (all signals blocked) sends them, with a
 * timeout on connecting and on every command, and reconnects by itself. A
 * profile that cannot be queued or written is dropped and counted. Reading
 * (the index) connects per call, with the same timeout. Knows nothing of
 * httpd. */
#ifndef RP_REDIS_H
#define RP_REDIS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "rp_store.h" /* rp_store_file_t */
#include "rp_store_target.h"

#define RP_REDIS_PREFIX "reqprof:"
/* After a failed connection, profiles are dropped without trying again for
 * this long. */
#define RP_REDIS_RETRY_AFTER apr_time_from_msec(1000)

typedef struct rp_redis_conf {
    rp_store_target_t target;
    const char *password;        /* NULL: no AUTH */
    apr_interval_time_t timeout; /* connecting, and each command */
    int ttl_seconds;             /* a profile's lifetime */
    int max_profiles;            /* profiles the index keeps */
    int queue_max;               /* profiles waiting per process */
    const char *node;            /* this host's name, for the drop count */
    int worst_per_group;         /* the slowest profiles kept per group */
} rp_redis_conf_t;

/* The group (route) of a profile and its duration: the slowest of a group
 * are kept for RP_REDIS_WORST_KEPT_TTLS times the TTL (PREFIX w:GROUP). */
typedef struct rp_redis_group {
    const char *name; /* NULL or "": no group */
    double dur_ms;
} rp_redis_group_t;

#define RP_REDIS_WORST_KEPT_TTLS 7

/* ---- writing ------------------------------------------------------------ */

typedef struct rp_redis_writer rp_redis_writer_t;

typedef struct rp_redis_stats {
    unsigned long submitted;
    unsigned long written;
    unsigned long dropped_full;   /* the queue was full */
    unsigned long dropped_down;   /* Redis was down, slow or refused it */
    unsigned long drops_recorded; /* of the drops, counted in Redis */
    unsigned long unsure; /* sent, unanswered, not yet settled with Redis */
    int connected;
} rp_redis_stats_t;

/* A writer for conf (copied). The thread starts with the first profile. */
rp_redis_writer_t *rp_redis_writer_create(const rp_redis_conf_t *conf);

/* Queues a copy of the files of profile id (the request started at t).
 * Never blocks on Redis. Returns 1 if queued, 0 if dropped (queue full). */
int rp_redis_writer_submit(rp_redis_writer_t *w, const char *id, apr_time_t t,
                           const rp_store_file_t *files, int count,
                           const rp_redis_group_t *group);

void rp_redis_writer_stats(rp_redis_writer_t *w, rp_redis_stats_t *out);

/* The newest error not yet taken, into buf; 0 if there is none. */
int rp_redis_writer_take_error(rp_redis_writer_t *w, char *buf,
                               apr_size_t size);

/* Stops the thread: what is queued is written first, and drops counted,
 * for at most deadline; the rest is dropped. Returns how many profiles
 * were lost without being counted in Redis (it did not answer in time).
 * Safe to call without a thread. The writer is not freed if its thread did
 * not end in time. */
unsigned long rp_redis_writer_stop(rp_redis_writer_t *w,
                                   apr_interval_time_t deadline);

/* ---- reading ------------------------------------------------------------ */

/* Saved files this large or larger are kept compressed (zlib, its fastest
 * level), unless the writer has a backlog; fetching gives them back as
 * they were. */
#define RP_REDIS_COMPRESS_MIN 1024

/* The hash field holding a profile's record (the sidecar's first line). */
#define RP_REDIS_RECORD_FIELD ".record"

typedef struct rp_redis_item {
    const char *id;
    const char *meta; /* the profile's record (RP_REDIS_RECORD_FIELD) */
    apr_size_t meta_len;
} rp_redis_item_t;

/* Called for each profile, newest first; returns 0 to stop. */
typedef int (*rp_redis_visit_f)(void *ctx, const rp_redis_item_t *item);

/* Reads the index newest first in chunks of chunk ids (one round trip for
 * the ids and one pipeline for their records per chunk) until visit says
 * stop or the index ends; ids whose profile has expired are skipped.
 * *error says why on failure. */
apr_status_t rp_redis_scan(const rp_redis_conf_t *conf, int chunk,
                           rp_redis_visit_f visit, void *ctx, apr_pool_t *pool,
                           const char **error);

/* The slowest profiles the store keeps of group (PREFIX w:GROUP), slowest
 * first, each with its record, as rp_redis_scan visits them. */
apr_status_t rp_redis_worst(const rp_redis_conf_t *conf, const char *group,
                            rp_redis_visit_f visit, void *ctx, apr_pool_t *pool,
                            const char **error);

typedef struct rp_redis_drop {
    const char *node;
    long long count;
} rp_redis_drop_t;

/* The newest profiles (at most max), newest first, each with its record;
 * ids whose profile has expired are left out. *error says why on failure. */
apr_status_t rp_redis_list(const rp_redis_conf_t *conf, int max,
                           apr_pool_t *pool, apr_array_header_t **items,
                           const char **error);

/* One saved file of profile id (the field is its suffix), NUL-terminated in
 * pool. APR_ENOENT if it is not there, APR_ENOMEM if larger than max. */
apr_status_t rp_redis_fetch(const rp_redis_conf_t *conf, const char *id,
                            const char *field, apr_size_t max, apr_pool_t *pool,
                            char **data, apr_size_t *len, const char **error);

/* Called with one profile's field, as it was saved; data lives until the
 * call returns. */
typedef void (*rp_redis_fetched_f)(void *ctx, const char *id, const char *data,
                                   apr_size_t len);

/* field of each of count profiles, on one connection in pipelines of a
 * few hundred: got is called for each that is there (and not larger than
 * max), in the order of ids. */
apr_status_t rp_redis_fetch_each(const rp_redis_conf_t *conf,
                                 const char *const *ids, int count,
                                 const char *field, apr_size_t max,
                                 rp_redis_fetched_f got, void *ctx,
                                 apr_pool_t *pool, const char **error);

/* The drop counts per host (rp_redis_drop_t, the sum of its processes'),
 * sorted by host name. */
apr_status_t rp_redis_drops(const rp_redis_conf_t *conf, apr_pool_t *pool,
                            apr_array_header_t **drops, const char **error);

#endif
