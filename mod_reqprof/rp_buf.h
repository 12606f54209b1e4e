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

/* Appends s as the contents of a JSON string (without the quotes): '"' and
 * '\\' escaped, C0 and C1 control characters and DEL as \u00XX (C1 ones act
 * in some terminals), invalid UTF-8 replaced by
 * U+FFFD, so the result is valid UTF-8 JSON whatever s holds. */
void rp_buf_json(rp_buf_t *b, const char *s);

/* Appends s quoted as a JSON string, or null when s is NULL. */
void rp_buf_json_string(rp_buf_t *b, const char *s);

/* Appends s as plain text safe for a terminal and for line-oriented formats:
 * C0 and C1 control characters (newlines and escapes included), DEL and
 * every character of also (may be NULL) become '?', invalid UTF-8 becomes
 * U+FFFD. */
void rp_buf_plain(rp_buf_t *b, const char *s, const char *also);

/* v in decimal, as printf's %lld writes it. */
void rp_buf_int(rp_buf_t *b, apr_int64_t v);

/* Appends v with at most decimals digits after the point and no trailing
 * zeros ("1", "0.25", "12.5"); non-finite values as 0. */
void rp_buf_decimal(rp_buf_t *b, double v, int decimals);

/* s as a URL query value: every byte but letters, digits and "-._~"
 * percent-encoded (so it is safe in an HTML attribute as well). */
void rp_buf_url_param(rp_buf_t *b, const char *s);

/* The value of a hexadecimal digit (either case), or -1. */
int rp_hex_value(char c);

/* Length of the valid UTF-8 sequence at p (at most avail bytes), or 0 when
 * it is not one (overlong forms, surrogates and code points past U+10FFFF
 * included). */
apr_size_t rp_utf8_length(const unsigned char *p, apr_size_t avail);

/* Returns the NUL-terminated contents (valid until the pool is cleared). */
const char *rp_buf_str(rp_buf_t *b);

#endif
