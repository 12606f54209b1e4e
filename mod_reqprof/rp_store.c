#include "rp_store.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "rp_format.h"

#define TMP_PREFIX ".tmp-"

/* A profile's files: the sidecar, its stacks, then each format
 * rp_format's table saves. Returns how many were put in out. */
#define SUFFIX_MAX 16
static int profile_suffixes(const char *out[SUFFIX_MAX])
{
    int count;
    const rp_format_t *formats = rp_formats(&count);
    int n = 0;
    out[n++] = RP_STORE_META;
    out[n++] = RP_STORE_STACKS;
    for (int i = 0; i < count && n < SUFFIX_MAX; i++) {
        if (formats[i].saved_suffix != NULL) {
            out[n++] = formats[i].saved_suffix;
        }
    }
    return n;
}

void rp_store_make_id(char *out, apr_size_t size, apr_time_t t, long pid,
                      unsigned seq)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    apr_snprintf(out, size, "%04d%02d%02dT%02d%02d%02d.%06dZ-%ld-%u",
                 e.tm_year + 1900, e.tm_mon + 1, e.tm_mday, e.tm_hour, e.tm_min,
                 e.tm_sec, e.tm_usec, pid, seq);
}

/* n decimal digits at p (checked by rp_store_id_valid). */
static int number_at(const char *p, int n)
{
    int v = 0;
    while (n-- > 0) {
        v = v * 10 + (*p++ - '0');
    }
    return v;
}

apr_time_t rp_store_id_time(const char *id)
{
    if (!rp_store_id_valid(id)) {
        return 0;
    }
    /* YYYYMMDDTHHMMSS.uuuuuuZ-... */
    apr_time_exp_t e;
    memset(&e, 0, sizeof(e));
    e.tm_year = number_at(id, 4) - 1900;
    e.tm_mon = number_at(id + 4, 2) - 1;
    e.tm_mday = number_at(id + 6, 2);
    e.tm_hour = number_at(id + 9, 2);
    e.tm_min = number_at(id + 11, 2);
    e.tm_sec = number_at(id + 13, 2);
    e.tm_usec = number_at(id + 16, 6);
    apr_time_t t = 0;
    return apr_time_exp_gmt_get(&t, &e) == APR_SUCCESS ? t : 0;
}

static int digits(const char **p, int min, int max)
{
    int n = 0;
    while (**p >= '0' && **p <= '9') {
        (*p)++;
        n++;
    }
    return n >= min && n <= max;
}

int rp_store_id_valid(const char *id)
{
    const char *p = id;
    if (id == NULL || strlen(id) >= RP_STORE_ID_MAX) {
        return 0;
    }
    return digits(&p, 8, 8) && *p++ == 'T' && digits(&p, 6, 6) && *p++ == '.' &&
           digits(&p, 6, 6) && *p++ == 'Z' && *p++ == '-' &&
           digits(&p, 1, 10) && *p++ == '-' && digits(&p, 1, 10) && *p == '\0';
}

static const char *path_of(apr_pool_t *pool, const char *dir, const char *id,
                           const char *suffix, int temporary)
{
    return apr_pstrcat(pool, dir, "/", temporary ? TMP_PREFIX : "", id, suffix,
                       NULL);
}

const char *rp_store_path(apr_pool_t *pool, const char *dir, const char *id,
                          const char *suffix)
{
    return rp_store_id_valid(id) ? path_of(pool, dir, id, suffix, 0) : NULL;
}

static apr_status_t write_file(const char *path, const char *data,
                               apr_size_t len, apr_pool_t *pool)
{
    apr_file_t *f;
    apr_int32_t flags =
        APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_EXCL | APR_FOPEN_BINARY;
    apr_fileperms_t perms =
        APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD;
    apr_status_t rv = apr_file_open(&f, path, flags, perms, pool);
    if (APR_STATUS_IS_EEXIST(rv)) {
        /* Debris of an earlier process with the same pid. */
        apr_file_remove(path, pool);
        rv = apr_file_open(&f, path, flags, perms, pool);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_size_t written = 0;
    rv = apr_file_write_full(f, data, len, &written);
    apr_status_t close_rv = apr_file_close(f);
    if (rv == APR_SUCCESS) {
        rv = close_rv;
    }
    if (rv != APR_SUCCESS) {
        apr_file_remove(path, pool);
    }
    return rv;
}

apr_status_t rp_store_save(const char *dir, const char *id,
                           const rp_store_file_t *files, int count,
                           apr_pool_t *pool, const char **failed)
{
    *failed = NULL;
    for (int i = 0; i < count; i++) {
        const char *tmp = path_of(pool, dir, id, files[i].suffix, 1);
        const char *final = path_of(pool, dir, id, files[i].suffix, 0);
        apr_status_t rv = write_file(tmp, files[i].data, files[i].len, pool);
        if (rv == APR_SUCCESS) {
            rv = apr_file_rename(tmp, final, pool);
            if (rv != APR_SUCCESS) {
                apr_file_remove(tmp, pool);
                *failed = final;
            }
        } else {
            *failed = tmp;
        }
        if (rv != APR_SUCCESS) {
            while (--i >= 0) {
                apr_file_remove(path_of(pool, dir, id, files[i].suffix, 0),
                                pool);
            }
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ---- listing and retention ---------------------------------------------- */

static int newest_first(const void *a, const void *b)
{
    const rp_store_entry_t *x = a, *y = b;
    /* Ids start with a fixed-width UTC time: the string order is the time
     * order; longer pid/sequence numbers sort later within one
     * microsecond. */
    size_t lx = strlen(x->id), ly = strlen(y->id);
    int c = strncmp(y->id, x->id, 23);
    if (c != 0) {
        return c;
    }
    if (lx != ly) {
        return lx < ly ? 1 : -1;
    }
    return strcmp(y->id, x->id);
}

/* The id of a profile file name, or NULL; *is_meta says it is the
 * sidecar. */
static const char *id_of(apr_pool_t *pool, const char *name, int *is_meta)
{
    size_t n = strlen(name);
    const char *suffixes[SUFFIX_MAX];
    int suffix_count = profile_suffixes(suffixes);
    for (int i = 0; i < suffix_count; i++) {
        size_t s = strlen(suffixes[i]);
        if (n > s && strcmp(name + n - s, suffixes[i]) == 0) {
            char *id = apr_pstrmemdup(pool, name, n - s);
            if (rp_store_id_valid(id)) {
                *is_meta = strcmp(suffixes[i], RP_STORE_META) == 0;
                return id;
            }
        }
    }
    return NULL;
}

apr_status_t rp_store_scan(const char *dir, apr_time_t now, apr_pool_t *pool,
                           apr_array_header_t **entries,
                           apr_array_header_t **stale)
{
    apr_dir_t *d;
    apr_status_t rv = apr_dir_open(&d, dir, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_time_t old = now - apr_time_from_sec(RP_STORE_STALE_SECONDS);
    apr_hash_t *by_id = apr_hash_make(pool);
    *entries = apr_array_make(pool, 64, sizeof(rp_store_entry_t));
    if (stale != NULL) {
        *stale = apr_array_make(pool, 4, sizeof(const char *));
    }
    apr_finfo_t fi;
    apr_int32_t wanted =
        APR_FINFO_NAME | APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_TYPE;
    for (;;) {
        rv = apr_dir_read(&fi, wanted, d);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_INCOMPLETE(rv)) {
            break;
        }
        if (fi.name == NULL || fi.filetype != APR_REG) {
            continue;
        }
        if (strncmp(fi.name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
            if (stale != NULL && fi.mtime < old) {
                APR_ARRAY_PUSH(*stale, const char *) =
                    apr_pstrdup(pool, fi.name);
            }
            continue;
        }
        int is_meta = 0;
        const char *id = id_of(pool, fi.name, &is_meta);
        if (id == NULL) {
            continue; /* not ours: never touched */
        }
        rp_store_entry_t *e = apr_hash_get(by_id, id, APR_HASH_KEY_STRING);
        if (e == NULL) {
            e = apr_pcalloc(pool, sizeof(*e));
            e->id = id;
            apr_hash_set(by_id, id, APR_HASH_KEY_STRING, e);
        }
        e->bytes += fi.size;
        e->complete |= is_meta;
        if (fi.mtime > e->mtime) {
            e->mtime = fi.mtime;
        }
    }
    apr_dir_close(d);
    if (!APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    for (apr_hash_index_t *hi = apr_hash_first(pool, by_id); hi;
         hi = apr_hash_next(hi)) {
        const rp_store_entry_t *e = apr_hash_this_val(hi);
        APR_ARRAY_PUSH(*entries, rp_store_entry_t) = *e;
    }
    qsort((*entries)->elts, (size_t)(*entries)->nelts, sizeof(rp_store_entry_t),
          newest_first);
    return APR_SUCCESS;
}

int rp_store_keep(const rp_store_entry_t *entries, int count, int max_count,
                  apr_off_t max_bytes)
{
    apr_off_t bytes = 0;
    int keep = 0;
    while (keep < count && (max_count <= 0 || keep < max_count)) {
        bytes += entries[keep].bytes;
        if (max_bytes > 0 && bytes > max_bytes) {
            break;
        }
        keep++;
    }
    return keep;
}

static void remove_profile(const char *dir, const char *id, apr_pool_t *pool)
{
    /* The sidecar first: the profile leaves the index before its files. */
    const char *suffixes[SUFFIX_MAX];
    int suffix_count = profile_suffixes(suffixes);
    for (int i = 0; i < suffix_count; i++) {
        apr_file_remove(path_of(pool, dir, id, suffixes[i], 0), pool);
    }
}

apr_status_t rp_store_prune(const char *dir, int max_count, apr_off_t max_bytes,
                            apr_time_t now, apr_pool_t *pool, int *removed)
{
    apr_array_header_t *entries, *stale;
    *removed = 0;
    apr_status_t rv = rp_store_scan(dir, now, pool, &entries, &stale);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (int i = 0; i < stale->nelts; i++) {
        apr_file_remove(apr_pstrcat(pool, dir, "/",
                                    APR_ARRAY_IDX(stale, i, const char *),
                                    NULL),
                        pool);
    }
    apr_time_t old = now - apr_time_from_sec(RP_STORE_STALE_SECONDS);
    rp_store_entry_t *complete =
        apr_palloc(pool, sizeof(*complete) * (size_t)(entries->nelts + 1));
    int n = 0;
    for (int i = 0; i < entries->nelts; i++) {
        const rp_store_entry_t *e =
            &APR_ARRAY_IDX(entries, i, rp_store_entry_t);
        if (e->complete) {
            complete[n++] = *e;
        } else if (e->mtime < old) {
            remove_profile(dir, e->id, pool); /* left by a failed save */
        }
    }
    for (int i = rp_store_keep(complete, n, max_count, max_bytes); i < n; i++) {
        remove_profile(dir, complete[i].id, pool);
        (*removed)++;
    }
    return APR_SUCCESS;
}

apr_status_t rp_store_read(const char *dir, const char *id, const char *suffix,
                           apr_size_t max_bytes, apr_pool_t *pool, char **data,
                           apr_size_t *len)
{
    if (!rp_store_id_valid(id)) {
        return APR_EINVAL;
    }
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path_of(pool, dir, id, suffix, 0),
                                    APR_FOPEN_READ | APR_FOPEN_BINARY,
                                    APR_FPROT_OS_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_finfo_t fi;
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && (fi.size < 0 || (apr_size_t)fi.size > max_bytes)) {
        rv = APR_ENOMEM;
    }
    if (rv == APR_SUCCESS) {
        *len = (apr_size_t)fi.size;
        *data = apr_palloc(pool, *len + 1);
        rv = apr_file_read_full(f, *data, *len, len);
        if (APR_STATUS_IS_EOF(rv)) {
            rv = APR_SUCCESS;
        }
        (*data)[*len] = '\0';
    }
    apr_file_close(f);
    return rv;
}

apr_status_t rp_store_read_line(const char *dir, const char *id,
                                const char *suffix, apr_size_t max_bytes,
                                apr_pool_t *pool, char **line)
{
    if (!rp_store_id_valid(id)) {
        return APR_EINVAL;
    }
    apr_file_t *f;
    apr_status_t rv =
        apr_file_open(&f, path_of(pool, dir, id, suffix, 0),
                      APR_FOPEN_READ | APR_FOPEN_BINARY | APR_FOPEN_BUFFERED,
                      APR_FPROT_OS_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    char *buf = apr_palloc(pool, max_bytes + 1);
    rv = apr_file_gets(buf, (int)max_bytes + 1, f);
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    buf[strcspn(buf, "\n")] = '\0';
    *line = buf;
    return APR_SUCCESS;
}
