/* libFuzzer target: rp_trigger_find (the query string and the parameter
 * name) and rp_trigger_format.
 *
 * Input: one byte giving the parameter name's length (mod 65, at least 1),
 * that many bytes mapped onto the characters ReqProfileParam accepts
 * ([A-Za-z0-9_.-]), then the query string (up to the first NUL).
 *
 * Checks, beyond the sanitizers:
 *  - the result equals an independent reference written from the documented
 *    rules (pairs split on '&' and ';'; names and values percent-decoded with
 *    '+' as space; a malformed, NUL-holding or over-long (> 256 bytes
 *    decoded) name skips its pair; the first pair with the name decides);
 *  - "param=0&" in front of any query disables the trigger (first decides);
 *  - once a query triggers, nothing appended after '&' changes the result;
 *  - a name that is the parameter with one character percent-encoded
 *    triggers like the plain name. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "rp_trigger.h"

static const char PARAM_CHARS[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

static int ref_hex(char c)
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

/* Decodes [b, e) into out (room for 257); 0 when malformed, NUL or > 256. */
static int ref_decode(const char *b, const char *e, char *out)
{
    size_t n = 0;
    while (b < e) {
        int c;
        if (*b == '%') {
            if (e - b < 3 || ref_hex(b[1]) < 0 || ref_hex(b[2]) < 0) {
                return 0;
            }
            c = ref_hex(b[1]) * 16 + ref_hex(b[2]);
            b += 3;
        } else {
            c = *b == '+' ? ' ' : (unsigned char)*b;
            b++;
        }
        if (c == 0 || n == 256) {
            return 0;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 1;
}

static rp_format_e ref_format(const char *v)
{
    static const char *const names[] = {"1", "html", "text", "speedscope",
                                        "collapsed", "pprof", "json"};
    static const rp_format_e formats[] = {
        RP_FORMAT_HTML,      RP_FORMAT_HTML,  RP_FORMAT_TEXT, RP_FORMAT_SPEEDSCOPE,
        RP_FORMAT_COLLAPSED, RP_FORMAT_PPROF, RP_FORMAT_JSON};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(v, names[i]) == 0) {
            return formats[i];
        }
    }
    return RP_FORMAT_NONE;
}

static rp_format_e ref_find(const char *args, const char *param)
{
    char name[257], value[257];
    const char *p = args;
    for (;;) {
        const char *end = p;
        while (*end && *end != '&' && *end != ';') {
            end++;
        }
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (ref_decode(p, eq ? eq : end, name) && strcmp(name, param) == 0) {
            if (eq == NULL || !ref_decode(eq + 1, end, value)) {
                return RP_FORMAT_NONE;
            }
            return ref_format(value);
        }
        if (*end == '\0') {
            return RP_FORMAT_NONE;
        }
        p = end + 1;
    }
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s == NULL) {
        abort();
    }
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t plen = 1 + data[0] % 64;
    if (size < 1 + plen) {
        return 0;
    }
    char param[66];
    for (size_t i = 0; i < plen; i++) {
        param[i] = PARAM_CHARS[data[1 + i] % (sizeof(PARAM_CHARS) - 1)];
    }
    param[plen] = '\0';
    char *args = fuzz_cstr(data + 1 + plen, size - 1 - plen);

    rp_format_e got = rp_trigger_find(args, param);
    FUZZ_CHECK(got >= RP_FORMAT_NONE && got <= RP_FORMAT_JSON, "format %d", (int)got);
    rp_format_e want = ref_find(args, param);
    FUZZ_CHECK(got == want, "args '%s' param '%s': got %d, reference %d", args, param,
               (int)got, (int)want);

    /* The first occurrence decides. */
    char *first = concat3(param, "=0&", args);
    FUZZ_CHECK(rp_trigger_find(first, param) == RP_FORMAT_NONE, "'%s'", first);
    free(first);

    /* Appending never changes a decision already made. */
    if (got != RP_FORMAT_NONE) {
        char *more = concat3(args, "&", param);
        char *more2 = concat3(more, "=0&", "zz");
        FUZZ_CHECK(rp_trigger_find(more2, param) == got, "'%s'", more2);
        free(more);
        free(more2);
    }

    /* Percent-encoding one character of the name changes nothing. */
    size_t at = size > 2 ? data[size - 1] % plen : 0;
    char encoded[66 + 2 + 1];
    memcpy(encoded, param, at);
    snprintf(encoded + at, 4, "%%%02X", (unsigned char)param[at]);
    memcpy(encoded + at + 3, param + at + 1, plen - at);
    char *q = concat3(encoded, "=", "json");
    FUZZ_CHECK(rp_trigger_find(q, param) == RP_FORMAT_JSON, "'%s' param '%s'", q, param);
    free(q);

    /* The value alone, as the format table reads it. */
    FUZZ_CHECK(rp_trigger_format(args) == ref_format(args), "format of '%s'", args);
    free(args);
    return 0;
}
