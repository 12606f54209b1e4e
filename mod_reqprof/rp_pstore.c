#include "rp_pstore.h"

#include <apr_strings.h>
#include <string.h>

/* Longest record line read for a listing, largest sidecar listed. */
#define LINE_MAX_BYTES (16 * 1024)

struct rp_pstore {
    const char *name;
    /* dir: */
    const char *dir;
    int max_count;
    apr_off_t max_bytes;
    /* redis: */
    rp_redis_conf_t redis;
    rp_redis_writer_t *writer;
    int shared;
    int closed; /* rp_pstore_close: its writer is gone, none is made again */
};

rp_pstore_t *rp_pstore_dir(const char *dir, int max_count, apr_off_t max_bytes,
                           apr_pool_t *pool)
{
    rp_pstore_t *s = apr_pcalloc(pool, sizeof(*s));
    s->dir = dir;
    s->max_count = max_count;
    s->max_bytes = max_bytes;
    s->name = apr_pstrcat(pool, "dir:", dir, NULL);
    return s;
}

rp_pstore_t *rp_pstore_redis(const rp_redis_conf_t *conf, apr_pool_t *pool)
{
    rp_pstore_t *s = apr_pcalloc(pool, sizeof(*s));
    s->redis = *conf;
    s->shared = 1;
    s->name = rp_store_target_name(&conf->target, pool);
    return s;
}

const char *rp_pstore_name(const rp_pstore_t *s)
{
    return s->name;
}

int rp_pstore_is_shared(const rp_pstore_t *s)
{
    return s->shared;
}

/* ---- saving -------------------------------------------------------------- */

static apr_status_t dir_save(rp_pstore_t *s, const char *id,
                             const rp_store_file_t *files, int count,
                             apr_pool_t *pool, const char **error)
{
    const char *failed = NULL;
    apr_status_t rv = rp_store_save(s->dir, id, files, count, pool, &failed);
    if (rv == APR_SUCCESS) {
        int removed = 0;
        rv = rp_store_prune(s->dir, s->max_count, s->max_bytes, apr_time_now(),
                            pool, &removed);
        failed = s->dir;
    }
    if (rv != APR_SUCCESS && error != NULL) {
        char why[120];
        *error = apr_psprintf(pool, "%s: %s", failed ? failed : s->dir,
                              apr_strerror(rv, why, sizeof(why)));
    }
    return rv;
}

/* files and the record a listing reads: the sidecar's first line. */
static const rp_store_file_t *with_record(const rp_store_file_t *files,
                                          int count, apr_pool_t *pool)
{
    rp_store_file_t *all =
        apr_pcalloc(pool, sizeof(*all) * (size_t)(count + 1));
    memcpy(all, files, sizeof(*all) * (size_t)count);
    all[count].suffix = RP_REDIS_RECORD_FIELD;
    all[count].data = "";
    for (int i = 0; i < count; i++) {
        if (strcmp(files[i].suffix, RP_STORE_META) == 0) {
            const char *nl = memchr(files[i].data, '\n', files[i].len);
            all[count].data = files[i].data;
            all[count].len =
                nl ? (apr_size_t)(nl - files[i].data) : files[i].len;
        }
    }
    return all;
}

/* The store's writer, made by the first save. Threads of a process save
 * at once: the one that loses the race to set it frees its own (never
 * started, so stopping frees it at once) and uses the winner's. */
static rp_redis_writer_t *writer_of(rp_pstore_t *s)
{
    rp_redis_writer_t *w = __atomic_load_n(&s->writer, __ATOMIC_ACQUIRE);
    if (w != NULL || __atomic_load_n(&s->closed, __ATOMIC_ACQUIRE)) {
        return w;
    }
    rp_redis_writer_t *made = rp_redis_writer_create(&s->redis);
    if (made != NULL &&
        !__atomic_compare_exchange_n(&s->writer, &w, made, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        rp_redis_writer_stop(made, 0);
        return w;
    }
    return made;
}

apr_status_t rp_pstore_save(rp_pstore_t *s, const char *id, apr_time_t t,
                            const rp_store_file_t *files, int count,
                            apr_pool_t *pool, const char **error)
{
    if (!s->shared) {
        return dir_save(s, id, files, count, pool, error);
    }
    rp_redis_writer_t *w = writer_of(s);
    const rp_store_file_t *all = with_record(files, count, pool);
    /* The record names the group and the duration (the worst are kept). */
    rp_saved_t record;
    rp_redis_group_t group = {NULL, 0.0};
    if (rp_saved_parse(all[count].data, all[count].len, 0, pool, &record) ==
        NULL) {
        group.name = record.group;
        group.dur_ms = record.dur_ms;
    }
    if (w == NULL ||
        !rp_redis_writer_submit(w, id, t, all, count + 1, &group)) {
        if (error != NULL) {
            *error = apr_psprintf(pool,
                                  "%d profiles already wait to be "
                                  "written (ReqProfileStoreQueue)",
                                  s->redis.queue_max);
        }
        return APR_EAGAIN;
    }
    return APR_SUCCESS;
}

/* ---- listing ------------------------------------------------------------- */

int rp_pstore_filter_match(const rp_pstore_filter_t *f, const rp_saved_t *p)
{
    if (f == NULL) {
        return 1;
    }
    if (f->server != NULL && *f->server != '\0' &&
        strcmp(f->server, p->server) != 0 && strcmp(f->server, p->node) != 0) {
        return 0;
    }
    if (f->path != NULL && *f->path != '\0' &&
        strstr(p->path, f->path) == NULL) {
        return 0;
    }
    if (f->status != 0 && f->status != p->status) {
        return 0;
    }
    if (f->min_ms > 0 && p->dur_ms < f->min_ms) {
        return 0;
    }
    if (f->trace != NULL && *f->trace != '\0' &&
        strcasecmp(f->trace, p->trace) != 0) {
        return 0;
    }
    if (f->group != NULL && strcmp(f->group, p->group) != 0) {
        return 0;
    }
    apr_time_t t = rp_store_id_time(p->id);
    if ((f->since != 0 && t < f->since) || (f->until != 0 && t >= f->until)) {
        return 0;
    }
    return 1;
}

/* Listings go newest first: past the window's start, nothing more can
 * match. */
static int before_window(const rp_pstore_filter_t *f, const char *id)
{
    return f != NULL && f->since != 0 && rp_store_id_time(id) < f->since;
}

/* Parses one record and keeps it if it matches. Returns 0 once the
 * listing has passed the filter's window. */
static int consider(const char *id, const char *text, apr_size_t len,
                    const rp_pstore_filter_t *filter, apr_pool_t *pool,
                    apr_array_header_t *out, int *scanned)
{
    if (before_window(filter, id)) {
        return 0;
    }
    rp_saved_t saved;
    const char *nl = memchr(text, '\n', len);
    if (rp_saved_parse(text, nl ? (apr_size_t)(nl - text) : len, 0, pool,
                       &saved) != NULL) {
        return 1; /* not a sidecar */
    }
    ++*scanned;
    saved.id = id;
    if (rp_pstore_filter_match(filter, &saved)) {
        *(rp_saved_t *)apr_array_push(out) = saved;
    }
    return 1;
}

static apr_status_t dir_list(rp_pstore_t *s, const rp_pstore_filter_t *filter,
                             int max, apr_pool_t *pool, apr_array_header_t *out,
                             int *scanned, const char **error)
{
    apr_array_header_t *entries;
    apr_status_t rv =
        rp_store_scan(s->dir, apr_time_now(), pool, &entries, NULL);
    if (rv != APR_SUCCESS) {
        char why[120];
        *error = apr_psprintf(pool, "%s cannot be listed: %s", s->dir,
                              apr_strerror(rv, why, sizeof(why)));
        return rv;
    }
    for (int i = 0; i < entries->nelts && out->nelts < max; i++) {
        const rp_store_entry_t *e =
            &APR_ARRAY_IDX(entries, i, rp_store_entry_t);
        char *line;
        if (e->complete &&
            rp_store_read_line(s->dir, e->id, RP_STORE_META, LINE_MAX_BYTES,
                               pool, &line) == APR_SUCCESS &&
            !consider(e->id, line, strlen(line), filter, pool, out, scanned)) {
            break;
        }
    }
    return APR_SUCCESS;
}

typedef struct redis_list_ctx {
    const rp_pstore_filter_t *filter;
    int max;
    apr_pool_t *pool;
    apr_array_header_t *out;
    int *scanned;
} redis_list_ctx_t;

static int consider_item(void *ctx, const rp_redis_item_t *it)
{
    redis_list_ctx_t *l = ctx;
    if (l->out->nelts >= l->max) {
        return 0; /* max <= 0: nothing, as from a directory */
    }
    if (rp_store_id_valid(it->id) &&
        !consider(it->id, it->meta, it->meta_len, l->filter, l->pool, l->out,
                  l->scanned)) {
        return 0;
    }
    return l->out->nelts < l->max;
}

/* Reads the index in chunks, each record only (a line, not the whole
 * sidecar), until max profiles matched or the index ended. */
static apr_status_t redis_list(rp_pstore_t *s, const rp_pstore_filter_t *filter,
                               int max, apr_pool_t *pool,
                               apr_array_header_t *out, int *scanned,
                               const char **error)
{
    redis_list_ctx_t ctx = {filter, max, pool, out, scanned};
    return rp_redis_scan(&s->redis, 500, consider_item, &ctx, pool, error);
}

apr_status_t rp_pstore_list(rp_pstore_t *s, const rp_pstore_filter_t *filter,
                            int max, apr_pool_t *pool, rp_saved_t **items,
                            int *count, int *scanned, const char **error)
{
    apr_array_header_t *out = apr_array_make(pool, 64, sizeof(rp_saved_t));
    *scanned = 0;
    const char *why = NULL;
    apr_status_t rv = s->shared
                          ? redis_list(s, filter, max, pool, out, scanned, &why)
                          : dir_list(s, filter, max, pool, out, scanned, &why);
    if (rv != APR_SUCCESS) {
        out->nelts = 0;
        if (error != NULL) {
            *error = why;
        }
    }
    *items = (rp_saved_t *)out->elts;
    *count = out->nelts;
    return rv;
}

typedef struct kept_ctx {
    apr_pool_t *pool;
    apr_array_header_t *out;
} kept_ctx_t;

static int keep_record(void *ctx, const rp_redis_item_t *it)
{
    kept_ctx_t *k = ctx;
    int scanned = 0;
    if (rp_store_id_valid(it->id)) {
        consider(it->id, it->meta, it->meta_len, NULL, k->pool, k->out,
                 &scanned);
    }
    return 1;
}

apr_status_t rp_pstore_kept(rp_pstore_t *s, const char *group, apr_pool_t *pool,
                            rp_saved_t **items, int *count, const char **error)
{
    apr_array_header_t *out = apr_array_make(pool, 8, sizeof(rp_saved_t));
    apr_status_t rv = APR_SUCCESS;
    if (s->shared) {
        kept_ctx_t ctx = {pool, out};
        rv = rp_redis_worst(&s->redis, group, keep_record, &ctx, pool, error);
    }
    *items = (rp_saved_t *)out->elts;
    *count = out->nelts;
    return rv;
}

/* ---- fetching ------------------------------------------------------------ */

apr_status_t rp_pstore_fetch(rp_pstore_t *s, const char *id, const char *suffix,
                             apr_size_t max, apr_pool_t *pool, char **data,
                             apr_size_t *len, const char **error)
{
    if (!rp_store_id_valid(id)) {
        return APR_ENOENT;
    }
    if (s->shared) {
        return rp_redis_fetch(&s->redis, id, suffix, max, pool, data, len,
                              error);
    }
    apr_status_t rv = rp_store_read(s->dir, id, suffix, max, pool, data, len);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_ENOENT;
    }
    if (rv != APR_SUCCESS && rv != APR_ENOMEM && error != NULL) {
        char why[120];
        *error = apr_psprintf(pool, "%s: %s", s->dir,
                              apr_strerror(rv, why, sizeof(why)));
    }
    return rv;
}

apr_status_t rp_pstore_fetch_each(rp_pstore_t *s, const char *const *ids,
                                  int count, const char *suffix, apr_size_t max,
                                  rp_redis_fetched_f got, void *ctx,
                                  apr_pool_t *pool, const char **error)
{
    if (s->shared) {
        return rp_redis_fetch_each(&s->redis, ids, count, suffix, max, got, ctx,
                                   pool, error);
    }
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    apr_status_t rv = APR_SUCCESS;
    for (int i = 0; i < count && rv == APR_SUCCESS; i++) {
        char *data;
        apr_size_t len;
        apr_status_t one = rp_pstore_fetch(s, ids[i], suffix, max, scratch,
                                           &data, &len, error);
        if (one == APR_SUCCESS) {
            got(ctx, ids[i], data, len);
        } else if (one != APR_ENOENT && one != APR_ENOMEM) {
            rv = one;
        }
        apr_pool_clear(scratch);
    }
    apr_pool_destroy(scratch);
    return rv;
}

/* ---- the writer's state ----------------------------------------------------
 */

void rp_pstore_stats(rp_pstore_t *s, rp_redis_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    rp_redis_writer_t *w = __atomic_load_n(&s->writer, __ATOMIC_ACQUIRE);
    if (w != NULL) {
        rp_redis_writer_stats(w, stats);
    }
}

const char *rp_pstore_take_error(rp_pstore_t *s, apr_pool_t *pool)
{
    char buf[512];
    rp_redis_writer_t *w = __atomic_load_n(&s->writer, __ATOMIC_ACQUIRE);
    if (w == NULL || !rp_redis_writer_take_error(w, buf, sizeof(buf))) {
        return NULL;
    }
    return apr_pstrdup(pool, buf);
}

apr_status_t rp_pstore_drops(rp_pstore_t *s, apr_pool_t *pool,
                             apr_array_header_t **drops, const char **error)
{
    if (!s->shared) {
        *drops = apr_array_make(pool, 1, sizeof(rp_redis_drop_t));
        return APR_SUCCESS;
    }
    return rp_redis_drops(&s->redis, pool, drops, error);
}

unsigned long rp_pstore_close(rp_pstore_t *s, apr_interval_time_t deadline)
{
    /* rp_redis_writer_stop frees the writer (or leaves it to a thread that
     * did not end in time): it is not used again, nor another one made. */
    __atomic_store_n(&s->closed, 1, __ATOMIC_RELEASE);
    rp_redis_writer_t *w =
        __atomic_exchange_n(&s->writer, NULL, __ATOMIC_ACQ_REL);
    return rp_redis_writer_stop(w, deadline);
}
