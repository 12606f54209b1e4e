#include "rp_buf.h"

#include <apr_strings.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rp_buf_init(rp_buf_t *b, apr_pool_t *pool, apr_size_t initial_cap)
{
    b->pool = pool;
    b->cap = initial_cap < 64 ? 64 : initial_cap;
    b->data = apr_palloc(pool, b->cap);
    b->len = 0;
    b->data[0] = '\0';
}

static void reserve(rp_buf_t *b, apr_size_t extra)
{
    apr_size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return;
    }
    apr_size_t cap = b->cap;
    while (cap < need) {
        cap *= 2;
    }
    /* Pools cannot realloc; the old block is reclaimed with the pool. Doubling
     * keeps the total at most twice the final size. */
    char *grown = apr_palloc(b->pool, cap);
    memcpy(grown, b->data, b->len + 1);
    b->data = grown;
    b->cap = cap;
}

void rp_buf_append(rp_buf_t *b, const char *s, apr_size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rp_buf_puts(rp_buf_t *b, const char *s)
{
    rp_buf_append(b, s, strlen(s));
}

void rp_buf_printf(rp_buf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = apr_vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n >= 0 && (apr_size_t)n < sizeof(small) - 1) {
        rp_buf_append(b, small, (apr_size_t)n);
        return;
    }
    va_start(ap, fmt);
    char *big = apr_pvsprintf(b->pool, fmt, ap);
    va_end(ap);
    rp_buf_puts(b, big);
}

static const char *entity_for(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    case '\t':
    case '\n':
        return NULL;
    default:
        return (c < 0x20 || c == 0x7f) ? "\xef\xbf\xbd" : NULL;
    }
}

int rp_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

apr_size_t rp_utf8_length(const unsigned char *p, apr_size_t avail)
{
    apr_size_t n;
    unsigned int cp;
    if (avail == 0 || p[0] < 0xc2) {
        return 0;
    } else if (p[0] < 0xe0) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] < 0xf0) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] < 0xf5) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n > avail) {
        return 0;
    }
    for (apr_size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

/* For NUL-terminated text: the terminator ends any sequence early. */
static int utf8_sequence_length(const unsigned char *p)
{
    return (int)rp_utf8_length(p, (apr_size_t)-1);
}

void rp_buf_html(rp_buf_t *b, const char *s)
{
    if (s == NULL) {
        return;
    }
    const unsigned char *run = (const unsigned char *)s;
    const unsigned char *p = run;
    while (*p) {
        const char *replacement;
        if (*p >= 0x80) {
            int n = utf8_sequence_length(p);
            if (n > 0) {
                p += n;
                continue;
            }
            replacement = "\xef\xbf\xbd";
        } else {
            replacement = entity_for(*p);
            if (replacement == NULL) {
                p++;
                continue;
            }
        }
        rp_buf_append(b, (const char *)run, (apr_size_t)(p - run));
        rp_buf_puts(b, replacement);
        p++;
        run = p;
    }
    rp_buf_puts(b, (const char *)run);
}

#define REPLACEMENT_CHARACTER "\xef\xbf\xbd"

void rp_buf_json(rp_buf_t *b, const char *s)
{
    if (s == NULL) {
        return;
    }
    const unsigned char *run = (const unsigned char *)s;
    const unsigned char *p = run;
    while (*p) {
        char escaped[8];
        const char *replacement = escaped;
        int skip = 1;
        if (*p >= 0x80) {
            int n = utf8_sequence_length(p);
            if (n == 0) {
                replacement = REPLACEMENT_CHARACTER;
            } else if (p[0] == 0xc2 && p[1] < 0xa0) {
                /* C1 controls: valid JSON, but some terminals obey them. */
                snprintf(escaped, sizeof(escaped), "\\u%04x", p[1]);
                skip = 2;
            } else {
                p += n;
                continue;
            }
        } else if (*p == '"' || *p == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)*p;
            escaped[2] = '\0';
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(escaped, sizeof(escaped), "\\u%04x", *p);
        } else {
            p++;
            continue;
        }
        rp_buf_append(b, (const char *)run, (apr_size_t)(p - run));
        rp_buf_puts(b, replacement);
        p += skip;
        run = p;
    }
    rp_buf_puts(b, (const char *)run);
}

void rp_buf_json_string(rp_buf_t *b, const char *s)
{
    if (s == NULL) {
        rp_buf_puts(b, "null");
        return;
    }
    rp_buf_puts(b, "\"");
    rp_buf_json(b, s);
    rp_buf_puts(b, "\"");
}

void rp_buf_plain(rp_buf_t *b, const char *s, const char *also)
{
    if (s == NULL) {
        return;
    }
    const unsigned char *run = (const unsigned char *)s;
    const unsigned char *p = run;
    while (*p) {
        const char *replacement;
        int skip = 1;
        if (*p >= 0x80) {
            int n = utf8_sequence_length(p);
            if (n == 0) {
                replacement = REPLACEMENT_CHARACTER;
            } else if (p[0] == 0xc2 && p[1] < 0xa0) {
                /* U+0080..U+009F: C1 controls (CSI among them). */
                replacement = "?";
                skip = n;
            } else {
                p += n;
                continue;
            }
        } else if (*p < 0x20 || *p == 0x7f ||
                   (also != NULL && strchr(also, *p) != NULL)) {
            replacement = "?";
        } else {
            p++;
            continue;
        }
        rp_buf_append(b, (const char *)run, (apr_size_t)(p - run));
        rp_buf_puts(b, replacement);
        p += skip;
        run = p;
    }
    rp_buf_puts(b, (const char *)run);
}

void rp_buf_int(rp_buf_t *b, apr_int64_t v)
{
    char text[24];
    char *end = text + sizeof(text), *p = end;
    /* In unsigned arithmetic: the smallest value has no positive twin. */
    apr_uint64_t magnitude = v < 0 ? 0 - (apr_uint64_t)v : (apr_uint64_t)v;
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (v < 0) {
        *--p = '-';
    }
    rp_buf_append(b, p, (apr_size_t)(end - p));
}

/* v in fixed notation with its trailing zeros trimmed, without printf
 * (records and reports write many numbers), where the result is certainly
 * printf's: 0 <= v, decimals <= 6 and v * 10^decimals < 2^31, so the
 * product is off the exact one by less than 2.5e-7, and not within 1e-6 of
 * a tie, where only the exact binary value could say which way printf
 * rounds. Returns 0 to leave the number to printf. */
static int decimal_without_printf(rp_buf_t *b, double v, int decimals)
{
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    if (decimals > 6 || !(v >= 0)) {
        return 0;
    }
    double scaled = v * scale[decimals];
    if (scaled >= 2147483648.0) {
        return 0;
    }
    double whole = floor(scaled);
    double fraction = scaled - whole;
    if (fabs(fraction - 0.5) < 1e-6) {
        return 0;
    }
    apr_uint64_t digits = (apr_uint64_t)whole + (fraction > 0.5 ? 1 : 0);
    apr_uint64_t unit = (apr_uint64_t)scale[decimals];
    rp_buf_int(b, (apr_int64_t)(digits / unit));
    apr_uint64_t rest = digits % unit;
    if (rest == 0 || decimals == 0) {
        return 1;
    }
    char text[8] = {0};
    int n = decimals;
    for (int i = n - 1; i >= 0; i--) {
        text[i] = (char)('0' + rest % 10);
        rest /= 10;
    }
    while (text[n - 1] == '0') {
        n--;
    }
    rp_buf_append(b, ".", 1);
    rp_buf_append(b, text, (apr_size_t)n);
    return 1;
}

void rp_buf_decimal(rp_buf_t *b, double v, int decimals)
{
    char text[64];
    if (!isfinite(v)) {
        v = 0;
    }
    if (decimals < 0) {
        decimals = 0;
    } else if (decimals > 9) {
        decimals = 9;
    }
    if (decimal_without_printf(b, v, decimals)) {
        return;
    }
    int n = snprintf(text, sizeof(text), "%.*f", decimals, v);
    if (n < 0 || (apr_size_t)n >= sizeof(text)) {
        /* Too large for fixed notation here: still a valid number. */
        n = snprintf(text, sizeof(text), "%.17g", v);
        rp_buf_append(b, text, (apr_size_t)(n > 0 ? n : 0));
        return;
    }
    if (strchr(text, '.') != NULL) {
        while (n > 0 && text[n - 1] == '0') {
            n--;
        }
        if (n > 0 && text[n - 1] == '.') {
            n--;
        }
    }
    text[n] = '\0';
    if (strcmp(text, "-0") == 0) {
        rp_buf_puts(b, "0");
        return;
    }
    rp_buf_append(b, text, (apr_size_t)n);
}

const char *rp_buf_str(rp_buf_t *b)
{
    return b->data;
}

void rp_buf_url_param(rp_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
            rp_buf_append(b, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rp_buf_append(b, esc, 3);
        }
    }
}
