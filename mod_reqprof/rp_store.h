/* rp_store: saved profiles in a directory (ReqProfileDir).
 *
 * A profile is a set of files sharing one name (its id), made by the module,
 * never from the request: "20261125T192201.123456Z-4242-17" (the request's
 * start in UTC to the microsecond, the process id, a per-process sequence
 * number), so names sort by time. Each file is written under a temporary
 * name (".tmp-" + its name) and renamed into place; the sidecar (".meta")
 * goes last, so a profile is listed only once it is complete, and removed
 * first. Retention keeps the newest profiles within a count and a total
 * size. Knows nothing of httpd. */
#ifndef RP_STORE_H
#define RP_STORE_H

#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define RP_STORE_ID_MAX 64

/* The files of one profile: each format rp_format's table saves, under its
 * saved_suffix (these two today), written in the table's order, then the
 * sidecar. */
#define RP_STORE_HTML ".html"
#define RP_STORE_SPEEDSCOPE ".speedscope.json"
#define RP_STORE_META ".meta"
/* The profile's stacks (rp_stacks), which a route's views are summed
 * from. */
#define RP_STORE_STACKS ".stacks"

/* Temporary files and incomplete profiles older than this are debris of a
 * crash or a full disk, and retention removes them. */
#define RP_STORE_STALE_SECONDS 120

/* Writes the id of a profile of a request that started at t into out. */
void rp_store_make_id(char *out, apr_size_t size, apr_time_t t, long pid,
                      unsigned seq);

/* 1 if id has the form rp_store_make_id makes (so it is safe in a path). */
int rp_store_id_valid(const char *id);

/* When the request of profile id started (its id says), or 0 for an id
 * that is not one rp_store_make_id makes. */
apr_time_t rp_store_id_time(const char *id);

/* The path of a saved file of profile id, or NULL for an invalid id. */
const char *rp_store_path(apr_pool_t *pool, const char *dir, const char *id,
                          const char *suffix);

typedef struct rp_store_file {
    const char *suffix; /* RP_STORE_HTML, ... */
    const char *data;
    apr_size_t len;
} rp_store_file_t;

/* Writes the files of profile id into dir, each atomically, in order. On an
 * error, what was written of this profile is removed again and *failed
 * names the path that failed. */
apr_status_t rp_store_save(const char *dir, const char *id,
                           const rp_store_file_t *files, int count,
                           apr_pool_t *pool, const char **failed);

typedef struct rp_store_entry {
    const char *id;
    apr_off_t bytes;  /* all its files */
    int complete;     /* its sidecar is there */
    apr_time_t mtime; /* newest of its files */
} rp_store_entry_t;

/* The profiles in dir, newest first, complete or not, and (if stale is not
 * NULL) the names of temporary files older than RP_STORE_STALE_SECONDS at
 * now. */
apr_status_t rp_store_scan(const char *dir, apr_time_t now, apr_pool_t *pool,
                           apr_array_header_t **entries,
                           apr_array_header_t **stale);

/* Retention: of entries (newest first), how many of the newest to keep —
 * the longest run that holds at most max_count profiles and max_bytes bytes
 * (0: no limit). */
int rp_store_keep(const rp_store_entry_t *entries, int count, int max_count,
                  apr_off_t max_bytes);

/* Applies retention to dir: removes the profiles past the kept run, stale
 * temporary files, and incomplete profiles older than
 * RP_STORE_STALE_SECONDS. *removed receives the count of profiles
 * removed. */
apr_status_t rp_store_prune(const char *dir, int max_count, apr_off_t max_bytes,
                            apr_time_t now, apr_pool_t *pool, int *removed);

/* Reads a saved file of profile id (the suffix says which) into pool,
 * NUL-terminated; APR_ENOMEM if it is larger than max_bytes, APR_EINVAL for
 * an id rp_store_id_valid refuses. */
apr_status_t rp_store_read(const char *dir, const char *id, const char *suffix,
                           apr_size_t max_bytes, apr_pool_t *pool, char **data,
                           apr_size_t *len);

/* Reads the first line of a saved file (without its newline), at most
 * max_bytes of it. */
apr_status_t rp_store_read_line(const char *dir, const char *id,
                                const char *suffix, apr_size_t max_bytes,
                                apr_pool_t *pool, char **line);

#endif
