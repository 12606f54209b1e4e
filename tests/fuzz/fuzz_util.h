/* Helpers shared by the libFuzzer targets: exact-size NUL-terminated copies
 * of the input (so AddressSanitizer sees any over-read), a strict UTF-8
 * decoder and the reference "invalid byte -> U+FFFD" transformation the
 * escaping functions promise, and a failure macro that always aborts. */
#ifndef RP_FUZZ_UTIL_H
#define RP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The checkers walk whole reports: keep libFuzzer's coverage instrumentation
 * (and its cost) out of them, so it measures the code under test. */
#if defined(__clang__) && __clang_major__ >= 13
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NOCOV
#endif

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz check failed at %s:%d: %s\n  ", __FILE__,    \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A malloc'd copy of data[0..size) with a NUL after it. The C functions
 * under test stop at the first NUL, as they do on request strings. */
FUZZ_NOCOV static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

/* Decodes one UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). Returns its length and stores the code
 * point, or returns 0 when p does not start a valid sequence. */
FUZZ_NOCOV static inline int fuzz_utf8_decode(const unsigned char *p, const unsigned char *end,
                                   uint32_t *cp)
{
    if (p >= end) {
        return 0;
    }
    unsigned c = p[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc0 && c < 0xe0) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c < 0xf0) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c < 0xf8) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (end - p < n) {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }
    *cp = v;
    return n;
}

/* 1 if s[0..len) is entirely valid UTF-8. */
FUZZ_NOCOV static inline int fuzz_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        uint32_t cp;
        int n = fuzz_utf8_decode(p, end, &cp);
        if (n == 0) {
            return 0;
        }
        p += n;
    }
    return 1;
}

/* The code points of s as the escapers must see them: each valid sequence
 * its code point, each byte that starts no valid sequence U+FFFD. Returns
 * the count; out has room for strlen(s) entries. */
FUZZ_NOCOV static inline size_t fuzz_codepoints(const char *s, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + strlen(s);
    size_t n = 0;
    while (p < end) {
        uint32_t cp;
        int len = fuzz_utf8_decode(p, end, &cp);
        if (len == 0) {
            out[n++] = 0xfffd;
            p++;
        } else {
            out[n++] = cp;
            p += len;
        }
    }
    return n;
}

/* Appends the UTF-8 encoding of cp to buf at *len. */
FUZZ_NOCOV static inline void fuzz_put_utf8(char *buf, size_t *len, uint32_t cp)
{
    unsigned char *o = (unsigned char *)buf + *len;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        *len += 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        *len += 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        *len += 3;
    } else {
        o[0] = (unsigned char)(0xf0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (unsigned char)(0x80 | (cp & 0x3f));
        *len += 4;
    }
}

/* ---- a strict JSON validator (RFC 8259) ---------------------------------- */

typedef struct fuzz_json {
    const unsigned char *p, *end;
    int depth;
} fuzz_json_t;

FUZZ_NOCOV static inline void fuzz_json_ws(fuzz_json_t *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

FUZZ_NOCOV static inline int fuzz_json_string(fuzz_json_t *j)
{
    if (j->p >= j->end || *j->p != '"') {
        return 0;
    }
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p < 0x20) {
            return 0;
        }
        if (*j->p == '\\') {
            if (j->end - j->p < 2) {
                return 0;
            }
            unsigned char e = j->p[1];
            j->p += 2;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, j->p++) {
                    if (j->p >= j->end || !((*j->p >= '0' && *j->p <= '9') ||
                                            (*j->p >= 'a' && *j->p <= 'f') ||
                                            (*j->p >= 'A' && *j->p <= 'F'))) {
                        return 0;
                    }
                }
            } else if (!strchr("\"\\/bfnrt", e) || e == 0) {
                return 0;
            }
            continue;
        }
        uint32_t cp;
        int n = fuzz_utf8_decode(j->p, j->end, &cp);
        if (n == 0) {
            return 0;
        }
        j->p += n;
    }
    if (j->p >= j->end) {
        return 0;
    }
    j->p++;
    return 1;
}

FUZZ_NOCOV static inline int fuzz_json_number(fuzz_json_t *j)
{
    const unsigned char *s = j->p;
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p >= j->end) {
        return 0;
    }
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    } else {
        return 0;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) {
            return 0;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) {
            return 0;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    return j->p > s;
}

FUZZ_NOCOV static inline int fuzz_json_value(fuzz_json_t *j)
{
    fuzz_json_ws(j);
    if (j->p >= j->end || ++j->depth > 512) {
        return 0;
    }
    int ok = 1;
    if (*j->p == '{' || *j->p == '[') {
        int object = *j->p == '{';
        j->p++;
        fuzz_json_ws(j);
        if (j->p < j->end && *j->p == (object ? '}' : ']')) {
            j->p++;
        } else {
            for (;;) {
                if (object) {
                    fuzz_json_ws(j);
                    if (!fuzz_json_string(j)) {
                        return 0;
                    }
                    fuzz_json_ws(j);
                    if (j->p >= j->end || *j->p++ != ':') {
                        return 0;
                    }
                }
                if (!fuzz_json_value(j)) {
                    return 0;
                }
                fuzz_json_ws(j);
                if (j->p >= j->end) {
                    return 0;
                }
                if (*j->p == ',') {
                    j->p++;
                    continue;
                }
                if (*j->p++ != (object ? '}' : ']')) {
                    return 0;
                }
                break;
            }
        }
    } else if (*j->p == '"') {
        ok = fuzz_json_string(j);
    } else if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
        ok = fuzz_json_number(j);
    } else {
        static const char *const words[] = {"true", "false", "null"};
        ok = 0;
        for (int i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
                j->p += n;
                ok = 1;
                break;
            }
        }
    }
    j->depth--;
    return ok;
}

/* 1 if s[0..len) is exactly one JSON value (surrounding whitespace allowed). */
FUZZ_NOCOV static inline int fuzz_json_valid(const char *s, size_t len)
{
    fuzz_json_t j = {(const unsigned char *)s, (const unsigned char *)s + len, 0};
    if (!fuzz_json_value(&j)) {
        return 0;
    }
    fuzz_json_ws(&j);
    return j.p == j.end;
}

#endif
