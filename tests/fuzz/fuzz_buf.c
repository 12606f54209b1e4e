/* libFuzzer target: the escaping every report format relies on —
 * rp_buf_html, rp_buf_json, rp_buf_plain — and rp_buf_decimal and
 * rp_buf_printf.
 *
 * The first input byte picks the function; the rest is the string (up to
 * the first NUL). For the escapers the output must be exactly what the
 * documented rules give, computed independently here from the input's code
 * points (each byte that starts no valid UTF-8 sequence is U+FFFD):
 *  - html: & < > " ' as &amp; &lt; &gt; &quot; &#39;, C0 controls other
 *    than tab and newline and DEL as U+FFFD: valid UTF-8, never a raw '<';
 *  - json: the contents of a JSON string that a strict parser accepts and
 *    decodes back to the code points, C0 and C1 controls and DEL escaped;
 *  - plain: C0 and C1 controls and DEL, and the characters of `also` (taken
 *    from the input), as '?': valid UTF-8 with no control character.
 * Appending to a buffer that already holds text keeps that text. */
#include <apr_general.h>
#include <apr_pools.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rp_buf.h"

static apr_pool_t *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    return 0;
}

static const char PREFIX[] = "prefix<&>";

static void check_buffer(rp_buf_t *b)
{
    FUZZ_CHECK(b->len < b->cap, "len %zu cap %zu", (size_t)b->len, (size_t)b->cap);
    FUZZ_CHECK(strlen(b->data) == b->len, "strlen %zu len %zu", strlen(b->data),
               (size_t)b->len);
    FUZZ_CHECK(strcmp(rp_buf_str(b), b->data) == 0, "rp_buf_str");
    FUZZ_CHECK(memcmp(b->data, PREFIX, sizeof(PREFIX) - 1) == 0, "prefix lost");
}

/* Expected output of the escaper `mode` for s, into a malloc'd string. */
static char *expected(int mode, const char *s, const char *also)
{
    size_t n = strlen(s);
    uint32_t *cps = malloc((n + 1) * sizeof(uint32_t));
    char *out = malloc(n * 12 + 1);
    if (cps == NULL || out == NULL) {
        abort();
    }
    size_t count = fuzz_codepoints(s, cps), len = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t c = cps[i];
        if (mode == 0) { /* html */
            const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                          : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;
            if (e != NULL) {
                memcpy(out + len, e, strlen(e));
                len += strlen(e);
            } else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
                fuzz_put_utf8(out, &len, 0xfffd);
            } else {
                fuzz_put_utf8(out, &len, c);
            }
        } else if (mode == 2) { /* plain */
            int control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
            if (control || (c < 0x80 && also != NULL && strchr(also, (int)c) != NULL)) {
                out[len++] = '?';
            } else {
                fuzz_put_utf8(out, &len, c);
            }
        }
    }
    out[len] = '\0';
    free(cps);
    return out;
}

/* Parses s as the contents of a JSON string (RFC 8259, strictly) into code
 * points; returns the count or -1 if it is not valid. Surrogate pairs in
 * \u escapes are combined; lone surrogates are refused. */
static long json_decode(const char *s, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    long n = 0;
    while (p < end) {
        if (*p == '"' || *p < 0x20) {
            return -1;
        }
        if (*p != '\\') {
            uint32_t cp;
            int len = fuzz_utf8_decode(p, end, &cp);
            if (len == 0) {
                return -1;
            }
            out[n++] = cp;
            p += len;
            continue;
        }
        if (end - p < 2) {
            return -1;
        }
        char e = (char)p[1];
        p += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            uint32_t v = 0;
            for (int i = 0; i < 4; i++) {
                if (p >= end) {
                    return -1;
                }
                char h = (char)*p++;
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                      : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) {
                    return -1;
                }
                v = v * 16 + (uint32_t)d;
            }
            if (v >= 0xd800 && v <= 0xdfff) {
                return -1; /* the escaper never needs surrogates */
            }
            out[n++] = v;
            break;
        }
        default:
            return -1;
        }
    }
    return n;
}

static void check_html(rp_buf_t *b, const char *s)
{
    rp_buf_html(b, s);
    check_buffer(b);
    const char *got = b->data + sizeof(PREFIX) - 1;
    char *want = expected(0, s, NULL);
    FUZZ_CHECK(strcmp(got, want) == 0, "html of '%s':\n got '%s'\nwant '%s'", s, got, want);
    FUZZ_CHECK(fuzz_utf8_valid(got, strlen(got)), "html not UTF-8");
    FUZZ_CHECK(strpbrk(got, "<>\"'") == NULL, "raw markup character in '%s'", got);
    free(want);
}

static void check_json(rp_buf_t *b, const char *s)
{
    rp_buf_json(b, s);
    check_buffer(b);
    const char *got = b->data + sizeof(PREFIX) - 1;
    size_t n = strlen(s);
    uint32_t *want = malloc((n + 1) * sizeof(uint32_t));
    uint32_t *decoded = malloc((strlen(got) + 1) * sizeof(uint32_t));
    if (want == NULL || decoded == NULL) {
        abort();
    }
    size_t wn = fuzz_codepoints(s, want);
    long dn = json_decode(got, decoded);
    FUZZ_CHECK(dn >= 0, "not a JSON string's contents: '%s'", got);
    FUZZ_CHECK((size_t)dn == wn && memcmp(want, decoded, wn * sizeof(uint32_t)) == 0,
               "JSON of '%s' decodes to something else: '%s'", s, got);
    /* No raw control character of any kind, C1 and DEL included. */
    const unsigned char *p = (const unsigned char *)got, *end = p + strlen(got);
    while (p < end) {
        uint32_t cp;
        int len = fuzz_utf8_decode(p, end, &cp);
        FUZZ_CHECK(len > 0, "JSON not UTF-8");
        FUZZ_CHECK(cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f), "raw control U+%04X in '%s'",
                   (unsigned)cp, got);
        p += len;
    }
    /* rp_buf_json_string: the same, quoted; NULL is null. */
    rp_buf_t q;
    rp_buf_init(&q, pool, 0);
    rp_buf_json_string(&q, s);
    FUZZ_CHECK(q.len == strlen(got) + 2 && q.data[0] == '"' && q.data[q.len - 1] == '"' &&
                   memcmp(q.data + 1, got, strlen(got)) == 0,
               "json_string");
    rp_buf_init(&q, pool, 0);
    rp_buf_json_string(&q, NULL);
    FUZZ_CHECK(strcmp(q.data, "null") == 0, "json_string(NULL)");
    free(want);
    free(decoded);
}

static void check_plain(rp_buf_t *b, const char *s, const char *also)
{
    rp_buf_plain(b, s, also);
    check_buffer(b);
    const char *got = b->data + sizeof(PREFIX) - 1;
    char *want = expected(2, s, also);
    FUZZ_CHECK(strcmp(got, want) == 0, "plain of '%s' (also '%s'):\n got '%s'\nwant '%s'", s,
               also ? also : "", got, want);
    FUZZ_CHECK(fuzz_utf8_valid(got, strlen(got)), "plain not UTF-8");
    free(want);
}

static void check_decimal(rp_buf_t *b, const uint8_t *data, size_t size)
{
    double v;
    if (size < sizeof(v) + 1) {
        return;
    }
    memcpy(&v, data, sizeof(v));
    int decimals = (int)(signed char)data[sizeof(v)] % 12;
    rp_buf_decimal(b, v, decimals);
    check_buffer(b);
    const char *got = b->data + sizeof(PREFIX) - 1;
    char *end;
    double back = strtod(got, &end);
    FUZZ_CHECK(*got != '\0' && *end == '\0', "decimal '%s' is not a number", got);
    FUZZ_CHECK(isfinite(back), "decimal '%s' of %g", got, v);
    FUZZ_CHECK(strcmp(got, "-0") != 0, "negative zero");
    FUZZ_CHECK(strspn(got, "-0123456789.e+") == strlen(got), "decimal '%s'", got);
    if (!isfinite(v)) {
        FUZZ_CHECK(strcmp(got, "0") == 0, "non-finite %g gave '%s'", v, got);
        return;
    }
    if (strchr(got, 'e') == NULL) {
        int d = decimals < 0 ? 0 : decimals > 9 ? 9 : decimals;
        double tolerance = 0.5 * pow(10.0, -d) + fabs(v) * 1e-15 + 1e-300;
        FUZZ_CHECK(fabs(back - v) <= tolerance, "decimal '%s' of %.17g (%d)", got, v, decimals);
        FUZZ_CHECK(strchr(got, '.') == NULL || got[strlen(got) - 1] != '0',
                   "trailing zero in '%s'", got);
        FUZZ_CHECK(got[strlen(got) - 1] != '.', "trailing point in '%s'", got);
    } else {
        FUZZ_CHECK(back == v, "decimal '%s' of %.17g", got, v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    int mode = data[0] % 6;
    char *s = fuzz_cstr(data + 1, size - 1);
    rp_buf_t b;
    rp_buf_init(&b, pool, data[0] / 6); /* small capacities force growth */
    rp_buf_puts(&b, PREFIX);
    switch (mode) {
    case 0:
        check_html(&b, s);
        break;
    case 1:
        check_json(&b, s);
        break;
    case 2: {
        /* `also`: the input's bytes up to the first ':' (ASCII only). */
        char *colon = strchr(s, ':');
        char also[64] = "";
        const char *text = s;
        if (colon != NULL && colon - s < (long)sizeof(also)) {
            size_t k = 0;
            for (const char *p = s; p < colon; p++) {
                if ((unsigned char)*p < 0x80) {
                    also[k++] = *p;
                }
            }
            also[k] = '\0';
            text = colon + 1;
        }
        check_plain(&b, text, colon != NULL ? also : NULL);
        break;
    }
    case 3:
        check_decimal(&b, data + 1, size - 1);
        break;
    case 4: {
        rp_buf_printf(&b, "%s|%" APR_SIZE_T_FMT "|%s", s, (apr_size_t)strlen(s), s);
        check_buffer(&b);
        size_t n = strlen(s);
        const char *got = b.data + sizeof(PREFIX) - 1;
        char num[32];
        int k = snprintf(num, sizeof(num), "|%zu|", n);
        FUZZ_CHECK(strlen(got) == 2 * n + (size_t)k && memcmp(got, s, n) == 0 &&
                       memcmp(got + n, num, (size_t)k) == 0 && memcmp(got + n + k, s, n) == 0,
                   "printf");
        break;
    }
    default:
        /* Everything at once into one buffer, as the renderers do. */
        rp_buf_html(&b, s);
        rp_buf_json(&b, s);
        rp_buf_plain(&b, s, ";[]");
        rp_buf_append(&b, s, strlen(s));
        check_buffer(&b);
        break;
    }
    free(s);
    apr_pool_clear(pool);
    return 0;
}
