#include "rp_logfmt.h"

#include <apr_strings.h>
#include <string.h>

/* rp_utf8_length, but C1 controls (U+0080..U+009F) count as invalid here:
 * they are escaped like C0 ones. */
static int utf8_length(const unsigned char *p, apr_size_t avail)
{
    apr_size_t n = rp_utf8_length(p, avail);
    if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
        return 0;
    }
    return (int)n;
}

static int is_bare(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

static void key_prefix(rp_buf_t *b, const char *key)
{
    if (b->len > 0) {
        rp_buf_append(b, " ", 1);
    }
    rp_buf_puts(b, key);
    rp_buf_append(b, "=", 1);
}

/* The escaped form of the character at s[i] (of n bytes): *text receives
 * its text, or NULL when the input is copied as it is, and *text_len its
 * length. Returns the input bytes it stands for. */
static apr_size_t escape_one(const unsigned char *s, apr_size_t i, apr_size_t n,
                             char esc[8], const char **text,
                             apr_size_t *text_len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[i];
    *text = esc;
    *text_len = 6;
    if (c >= 0x80) {
        int len = utf8_length(s + i, n - i);
        if (len > 0) {
            *text = NULL;
            *text_len = (apr_size_t)len;
            return (apr_size_t)len;
        }
        if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] < 0xa0) {
            /* A C1 control (U+0080..U+009F): valid UTF-8, escaped. */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[s[i + 1] >> 4];
            esc[5] = hex[s[i + 1] & 0xf];
            return 2;
        }
        memcpy(esc, "\\ufffd", 6);
        return 1;
    }
    char named = c == '"'    ? '"'
                 : c == '\\' ? '\\'
                 : c == '\n' ? 'n'
                 : c == '\r' ? 'r'
                 : c == '\t' ? 't'
                             : 0;
    if (named) {
        esc[0] = '\\';
        esc[1] = named;
        *text_len = 2;
    } else if (c < 0x20 || c == 0x7f) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xf];
    } else {
        *text = NULL;
        *text_len = 1;
    }
    return 1;
}

/* Appends the escaped form of s[0..n), quotes not included, at most max
 * bytes of it (0: all) without cutting an escape or a character. Returns
 * the input bytes written. */
static apr_size_t append_escaped(rp_buf_t *b, const unsigned char *s,
                                 apr_size_t n, apr_size_t max)
{
    apr_size_t i = 0, written = 0;
    while (i < n) {
        char esc[8];
        const char *text;
        apr_size_t len;
        apr_size_t used = escape_one(s, i, n, esc, &text, &len);
        if (max > 0 && written + len > max) {
            break;
        }
        rp_buf_append(b, text ? text : (const char *)s + i, len);
        written += len;
        i += used;
    }
    return i;
}

void rp_logfmt_str(rp_buf_t *b, const char *key, const char *value,
                   apr_size_t max_bytes)
{
    if (value == NULL) {
        return;
    }
    const unsigned char *s = (const unsigned char *)value;
    apr_size_t n = strlen(value);
    int bare = n > 0;
    for (apr_size_t i = 0; bare && i < n; i++) {
        bare = is_bare(s[i]);
    }
    key_prefix(b, key);
    if (bare) {
        apr_size_t keep = max_bytes > 0 && n > max_bytes ? max_bytes : n;
        rp_buf_append(b, value, keep);
        if (keep < n) {
            rp_buf_puts(b, "...");
        }
        return;
    }
    rp_buf_append(b, "\"", 1);
    if (append_escaped(b, s, n, max_bytes) < n) {
        rp_buf_puts(b, "...");
    }
    rp_buf_append(b, "\"", 1);
}

void rp_logfmt_url(rp_buf_t *b, const char *key, const char *value,
                   apr_size_t max_bytes)
{
    static const char hex[] = "0123456789ABCDEF";
    if (value == NULL) {
        return;
    }
    rp_buf_t enc;
    rp_buf_init(&enc, b->pool, strlen(value) + 16);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
            char pct[3] = {'%', hex[*p >> 4], hex[*p & 0xf]};
            rp_buf_append(&enc, pct, 3);
        } else {
            rp_buf_append(&enc, (const char *)p, 1);
        }
    }
    /* Never cut inside a %XX. */
    apr_size_t n = enc.len;
    if (max_bytes > 0 && n > max_bytes) {
        n = max_bytes;
        if (n >= 1 && enc.data[n - 1] == '%') {
            n -= 1;
        } else if (n >= 2 && enc.data[n - 2] == '%') {
            n -= 2;
        }
        enc.data[n] = '\0';
        rp_logfmt_str(b, key, apr_pstrcat(b->pool, enc.data, "...", NULL), 0);
        return;
    }
    rp_logfmt_str(b, key, enc.data, 0);
}

void rp_logfmt_int(rp_buf_t *b, const char *key, apr_int64_t value)
{
    key_prefix(b, key);
    rp_buf_int(b, value);
}

void rp_logfmt_num(rp_buf_t *b, const char *key, double value, int decimals)
{
    key_prefix(b, key);
    rp_buf_decimal(b, value, decimals);
}

/* ---- reading ------------------------------------------------------------ */

static int read_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4) {
        return 0;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = rp_hex_value(p[i]);
        if (h < 0) {
            return 0;
        }
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return 1;
}

static void put_utf8(rp_buf_t *b, unsigned cp)
{
    char out[4];
    apr_size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    rp_buf_append(b, out, n);
}

/* Reads a quoted value starting after the opening quote; *pp ends after the
 * closing one. */
static const char *read_quoted(const char **pp, const char *end, rp_buf_t *v)
{
    const char *p = *pp;
    while (p < end && *p != '"') {
        if (*p != '\\') {
            rp_buf_append(v, p, 1);
            p++;
            continue;
        }
        if (++p >= end) {
            return "escape at the end of the line";
        }
        char c = *p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            rp_buf_append(v, &c, 1);
            break;
        case 'n':
            rp_buf_append(v, "\n", 1);
            break;
        case 'r':
            rp_buf_append(v, "\r", 1);
            break;
        case 't':
            rp_buf_append(v, "\t", 1);
            break;
        case 'b':
            rp_buf_append(v, "\b", 1);
            break;
        case 'f':
            rp_buf_append(v, "\f", 1);
            break;
        case 'u': {
            unsigned cp, low;
            if (!read_hex4(p, end, &cp)) {
                return "bad \\u escape";
            }
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' &&
                p[1] == 'u' && read_hex4(p + 2, end, &low) && low >= 0xdc00 &&
                low < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                p += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;
            }
            put_utf8(v, cp);
            break;
        }
        default:
            return "unknown escape";
        }
    }
    if (p >= end) {
        return "unterminated quote";
    }
    *pp = p + 1;
    return NULL;
}

const char *rp_logfmt_parse(const char *line, apr_size_t len, apr_pool_t *pool,
                            apr_array_header_t **pairs)
{
    const char *p = line, *end = line + len;
    *pairs = apr_array_make(pool, 32, sizeof(rp_logfmt_pair_t));
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        if (p >= end) {
            break;
        }
        const char *key = p;
        while (p < end && *p != '=' && *p != ' ' && *p != '\t' && *p != '"') {
            p++;
        }
        if (p == key) {
            return "empty key";
        }
        rp_logfmt_pair_t *pair = apr_array_push(*pairs);
        pair->key = apr_pstrmemdup(pool, key, (apr_size_t)(p - key));
        pair->value = "";
        if (p >= end || *p != '=') {
            if (p < end && *p == '"') {
                return "quote inside a key";
            }
            continue;
        }
        p++;
        if (p < end && *p == '"') {
            rp_buf_t v;
            rp_buf_init(&v, pool, 64);
            p++;
            const char *err = read_quoted(&p, end, &v);
            if (err != NULL) {
                return err;
            }
            if (p < end && *p != ' ' && *p != '\t') {
                return "text after a closing quote";
            }
            pair->value = rp_buf_str(&v);
        } else {
            const char *value = p;
            while (p < end && *p != ' ' && *p != '\t') {
                if (*p == '"') {
                    return "quote inside a bare value";
                }
                p++;
            }
            pair->value = apr_pstrmemdup(pool, value, (apr_size_t)(p - value));
        }
    }
    return NULL;
}

const char *rp_logfmt_get(const apr_array_header_t *pairs, const char *key)
{
    const rp_logfmt_pair_t *items = (const rp_logfmt_pair_t *)pairs->elts;
    for (int i = 0; i < pairs->nelts; i++) {
        if (strcmp(items[i].key, key) == 0) {
            return items[i].value;
        }
    }
    return NULL;
}
