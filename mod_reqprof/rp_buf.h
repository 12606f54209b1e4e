/* rp_buf: a growable text buffer in an APR pool, with the escaping every
 * renderer needs. Knows nothing of httpd. */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <apr_pools.h>

typedef struct rp_buf {
    apr_pool_t *pool;
    char *data;
    apr_size_t len;
    apr_size_t cap;
} rp_buf_t;

void rp_buf_init(rp_buf_t *b, apr_pool_t *pool, apr_size_t initial_cap);
void rp_buf_append(rp_buf_t *b, const char *s, apr_size_t n);
void rp_buf_puts(rp_buf_t *b, const char *s);
void rp_buf_printf(rp_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s with &, <, >, " and ' replaced by entities, and control
 * characters other than tab and newline replaced by U+FFFD, so the text is
 * safe both in element content and in quoted attribute values. */
void rp_buf_html(rp_buf_t *b, const char *s);

/* Returns the NUL-terminated contents (valid until the pool is cleared). */
const char *rp_buf_str(rp_buf_t *b);

#endif
