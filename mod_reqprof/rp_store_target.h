/* rp_store_target: where saved profiles go, as ReqProfileStore names it.
 *
 *   dir:PATH                          a directory of this server (rp_store)
 *   redis://[USER@]HOST[:PORT][/DB]   a Redis shared by a fleet (rp_redis)
 *
 * Parsing only: the directory is made absolute and the password read by
 * the caller (the configuration). A URL never carries a password: it would
 * be shown wherever the configuration is (apachectl -S, mod_info). Knows
 * nothing of httpd. */
#ifndef RP_STORE_TARGET_H
#define RP_STORE_TARGET_H

#include <apr_pools.h>

typedef enum {
    RP_STORE_NONE = 0,
    RP_STORE_DIR,
    RP_STORE_REDIS
} rp_store_kind_e;

#define RP_REDIS_DEFAULT_PORT 6379

typedef struct rp_store_target {
    rp_store_kind_e kind;
    const char *path; /* dir: as written (the caller resolves it) */
    const char *host; /* redis: a name or an address ([v6] without brackets) */
    int port;
    int db;
    const char *user; /* NULL: AUTH with the password alone */
} rp_store_target_t;

/* Parses value into *out. Returns NULL, or an error message in pool that
 * says what is wrong and what is expected. */
const char *rp_store_target_parse(const char *value, apr_pool_t *pool,
                                  rp_store_target_t *out);

/* "redis://host:port/db" (with user@ if any), for messages and the index. */
const char *rp_store_target_name(const rp_store_target_t *t, apr_pool_t *pool);

#endif
