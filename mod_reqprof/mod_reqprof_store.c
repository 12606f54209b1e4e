/* The profile stores of the servers: a directory (ReqProfileDir,
 * ReqProfileStore dir:) or a Redis a fleet shares (ReqProfileStore
 * redis://). One store object per distinct store, made in the parent at
 * post_config and inherited by the children; a shared store's writer
 * thread starts in a child with its first profile and is stopped at the
 * child's exit. */
#include "mod_reqprof_store.h"

#include "mod_reqprof_config.h"

#include "http_core.h"
#include "http_log.h"

#include <apr_hash.h>
#include <apr_strings.h>

APLOG_USE_MODULE(reqprof);

/* Failures are logged at most this often per process. */
#define ERROR_INTERVAL apr_time_from_sec(60)
/* At child exit, queued profiles get this long to be written. */
#define CLOSE_DEADLINE apr_time_from_msec(500)

static apr_hash_t *stores; /* name -> rp_pstore_t, in pconf */

rp_pstore_t *rp_storage_of(const request_rec *r)
{
    return rp_conf_store(r->server);
}

static void warn_if_not_a_dir(server_rec *s, const char *dir, apr_pool_t *ptemp)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp);
    if (rv != APR_SUCCESS || fi.filetype != APR_DIR) {
        ap_log_error(APLOG_MARK, APLOG_WARNING,
                     rv != APR_SUCCESS ? rv : APR_ENOTDIR, s,
                     RP_LOG_TAG "ReqProfileDir %s is not a directory: "
                                "profiles will not be saved until it is one, "
                                "writable by the server's User",
                     dir);
    }
}

/* The store a server's configuration names, made once per name. */
static rp_pstore_t *store_for(server_rec *s, apr_pool_t *pconf,
                              apr_pool_t *ptemp, int say)
{
    rp_redis_conf_t redis;
    const char *dir = rp_conf_dir(s);
    const char *name = NULL;
    if (rp_conf_redis(s, pconf, &redis)) {
        name = rp_store_target_name(&redis.target, ptemp);
    } else if (dir != NULL) {
        name = apr_pstrcat(ptemp, "dir:", dir, NULL);
    } else {
        return NULL;
    }
    rp_pstore_t *store = apr_hash_get(stores, name, APR_HASH_KEY_STRING);
    if (store != NULL) {
        return store;
    }
    if (dir != NULL) {
        int max_count;
        apr_off_t max_bytes;
        rp_conf_dir_limits(s, &max_count, &max_bytes);
        store = rp_pstore_dir(dir, max_count, max_bytes, pconf);
        if (say) {
            warn_if_not_a_dir(s, dir, ptemp);
        }
    } else {
        store = rp_pstore_redis(&redis, pconf);
    }
    apr_hash_set(stores, rp_pstore_name(store), APR_HASH_KEY_STRING, store);
    return store;
}

static int make_stores(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    (void)plog;
    /* The first of the two passes at startup says nothing. */
    int say = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
    stores = apr_hash_make(pconf);
    for (server_rec *vs = s; vs != NULL; vs = vs->next) {
        rp_conf_set_store(vs, store_for(vs, pconf, ptemp, say));
    }
    return OK;
}

/* At child exit. Profiles the store could not be told about (it was down
 * or slow to the end) are said here, as nothing else will count them. */
static apr_status_t close_stores(void *data)
{
    server_rec *s = data;
    for (apr_hash_index_t *hi = apr_hash_first(NULL, stores); hi != NULL;
         hi = apr_hash_next(hi)) {
        rp_pstore_t *store = apr_hash_this_val(hi);
        unsigned long lost = rp_pstore_close(store, CLOSE_DEADLINE);
        if (lost > 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                         RP_LOG_TAG "ReqProfileStore %s: this process ends "
                                    "with %lu profiles dropped that the "
                                    "store could not count (it did not "
                                    "answer)",
                         rp_pstore_name(store), lost);
        }
    }
    return APR_SUCCESS;
}

static void register_close(apr_pool_t *pchild, server_rec *s)
{
    apr_pool_cleanup_register(pchild, s, close_stores, apr_pool_cleanup_null);
}

/* ---- saving, and saying what failed ---------------------------------------
 */

typedef struct error_gate {
    apr_time_t last;
    unsigned suppressed;
} error_gate_t;

static error_gate_t save_errors;

/* Whether to log a failure now; *suppressed receives how many were kept
 * quiet since the last one logged. */
static int gate_open(error_gate_t *gate, unsigned *suppressed)
{
    apr_time_t now = apr_time_now();
    apr_time_t last = __atomic_load_n(&gate->last, __ATOMIC_RELAXED);
    if ((last != 0 && now - last < ERROR_INTERVAL) ||
        !__atomic_compare_exchange_n(&gate->last, &last, now, 0,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&gate->suppressed, 1, __ATOMIC_RELAXED);
        return 0;
    }
    *suppressed = __atomic_exchange_n(&gate->suppressed, 0, __ATOMIC_RELAXED);
    return 1;
}

static void say_failure(request_rec *r, rp_pstore_t *store, const char *id,
                        const char *why)
{
    unsigned suppressed;
    if (!gate_open(&save_errors, &suppressed)) {
        return;
    }
    rp_redis_stats_t st;
    rp_pstore_stats(store, &st);
    if (rp_pstore_is_shared(store)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "ReqProfileStore %s: %s. Requests are "
                                 "served normally; this process dropped %lu "
                                 "profiles (%lu with the queue full), wrote "
                                 "%lu, and keeps trying",
                      rp_pstore_name(store), why,
                      st.dropped_down + st.dropped_full, st.dropped_full,
                      st.written);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  RP_LOG_TAG "ReqProfileDir %s: cannot save profile %s (%s); "
                             "the directory must exist and be writable by "
                             "the server's User. Requests are served "
                             "normally; %u more failures since the last "
                             "message",
                  rp_pstore_name(store) + strlen("dir:"), id, why, suppressed);
}

int rp_storage_save(request_rec *r, const char *id, apr_time_t t,
                    const rp_store_file_t *files, int count)
{
    rp_pstore_t *store = rp_storage_of(r);
    if (store == NULL) {
        return 0;
    }
    const char *why = NULL;
    apr_status_t rv = rp_pstore_save(store, id, t, files, count, r->pool, &why);
    /* The writer thread's own failures (Redis down, slow, refusing). */
    const char *writer_error = rp_pstore_take_error(store, r->pool);
    if (rv != APR_SUCCESS || writer_error != NULL) {
        say_failure(r, store, id, rv != APR_SUCCESS ? why : writer_error);
    }
    return rv == APR_SUCCESS;
}

void rp_storage_register(void)
{
    ap_hook_post_config(make_stores, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(register_close, NULL, NULL, APR_HOOK_MIDDLE);
}
