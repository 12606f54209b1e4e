/* rp_logfmt: one-line key=value records (logfmt), written and read back.
 *
 * Writing: a value made only of printable ASCII other than '"', '=' and '\\'
 * is written bare; any other value (empty, spaces, quotes, non-ASCII) is
 * written in double quotes with JSON's escapes: \" \\ \n \r \t, other
 * control characters (C0, DEL and C1) as \u00XX and invalid UTF-8 as
 * \ufffd; valid UTF-8 passes through. A record therefore never holds a raw
 * newline or control character, whatever the request sent, and parses with
 * common logfmt readers. Knows nothing of httpd. */
#ifndef RP_LOGFMT_H
#define RP_LOGFMT_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rp_buf.h"

/* Longest value the records write for a request's path or query. */
#define RP_LOGFMT_MAX_VALUE 1024

/* Appends " key=value" (without the space at the start of the buffer).
 * value NULL writes nothing. At most max_bytes of the written value, after
 * escaping and without its quotes, are written (0: no limit); a value cut
 * there (never inside an escape or a character) ends with "...". */
void rp_logfmt_str(rp_buf_t *b, const char *key, const char *value,
                   apr_size_t max_bytes);
/* A URL's path or query: bytes that may not appear in a URL (controls,
 * space, non-ASCII, '"', backslash) are percent-encoded (%22), the rest
 * kept as sent, so the value never needs a backslash escape. */
void rp_logfmt_url(rp_buf_t *b, const char *key, const char *value,
                   apr_size_t max_bytes);
void rp_logfmt_int(rp_buf_t *b, const char *key, apr_int64_t value);
/* A decimal with up to decimals digits after the point ("12.5"). */
void rp_logfmt_num(rp_buf_t *b, const char *key, double value, int decimals);

typedef struct rp_logfmt_pair {
    const char *key;
    const char *value; /* unescaped; "" for a key without '=' */
} rp_logfmt_pair_t;

/* Parses one line (without its newline) into an array of rp_logfmt_pair_t
 * allocated in pool. Returns NULL, or a message for a malformed line (an
 * unterminated quote, a bad escape, an empty key). \uXXXX escapes, surrogate
 * pairs included, become UTF-8; a lone surrogate becomes U+FFFD. */
const char *rp_logfmt_parse(const char *line, apr_size_t len, apr_pool_t *pool,
                            apr_array_header_t **pairs);

/* The value of the first pair named key, or NULL. */
const char *rp_logfmt_get(const apr_array_header_t *pairs, const char *key);

#endif
