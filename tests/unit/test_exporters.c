/* The export renderers (text, collapsed stacks, speedscope, JSON, pprof) and
 * the escaping they rely on, from profiles built by hand. JSON output is run
 * through a strict parser and pprof output through zlib and a protobuf
 * reader; the integration tests feed real profiles to the real tools. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "rp_buf.h"
#include "rp_collapsed.h"
#include "rp_json.h"
#include "rp_pprof.h"
#include "rp_speedscope.h"
#include "rp_text.h"
#include "unit_suites.h"

static apr_pool_t *pool;

static const rp_func_t f_main = {.name = "main",
                                 .object = "httpd",
                                 .file = "main.c",
                                 .line = 10,
                                 .resolved = 1};
static const rp_func_t f_handler = {.name = "handler",
                                    .object = "mod_x.so",
                                    .file = "h.c",
                                    .line = 77,
                                    .resolved = 1};
static const rp_func_t f_leaf = {
    .name = "leaf", .object = "libc.so.6", .resolved = 1};
static const rp_func_t f_cold = {
    .name = "cold", .object = "httpd", .resolved = 0};
/* Everything a name must not smuggle into a terminal, a line format or a
 * JSON string: ';', ESC sequences, BEL, newline, quote, backslash, DEL, a C1
 * CSI (U+009B) and a byte that is not UTF-8. */
static const rp_func_t f_evil = {.name =
                                     "ev;il\x1b[31m\a\n\"\\\x7f\xc2\x9b\xff",
                                 .object = "ob;j[x]\t.so",
                                 .file = "e\"v\\il.c\r",
                                 .line = 3,
                                 .resolved = 1};

static const char hostile_uri[] =
    "/x?\x1b]0;owned\x07&q=\"a\\b\"\n\r<i>\xff\xfe\xc2\x9b\xe2\x82\xac";

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

static rp_profile_t *base_profile(void)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    p->method = "GET";
    p->uri = "/work/cpu?ms=5&profile=text";
    p->protocol = "HTTP/1.1";
    p->host = "example.test";
    p->status = 404;
    p->discarded_bytes = 1234;
    p->server = "Apache/2.4 (Unix)";
    p->mpm = "event";
    p->pid = 4242;
    p->tid = 4343;
    p->request_started = apr_time_from_sec(1700000000) - 1500;
    p->started = apr_time_from_sec(1700000000);
    p->stats.wall_ns = 6500000;
    p->stats.cpu_ns = 4000000;
    p->stats.interval_us = 1000;
    p->stats.clock = RP_CLOCK_WALL;
    rp_profile_begin(p, pool);
    return p;
}

/* Adds a sample to the tree, the sample list and the statistics, taken
 * right after the previous one. */
static void add_sample(rp_profile_t *p, const rp_func_t *const *frames,
                       unsigned depth, uint32_t weight, int waiting,
                       unsigned phase, int32_t syscall)
{
    rp_stack_t s = {.frames = frames,
                    .depth = depth,
                    .t_ns =
                        p->stats.weight * (uint64_t)p->stats.interval_us * 1000,
                    .weight = weight,
                    .waiting = waiting,
                    .phase = phase,
                    .syscall = syscall};
    rp_profile_add_stack(p, &s);
}

/* In time order: main>handler>leaf 3 on CPU (handler phase), main>cold 1 on
 * CPU (fixups), main>cold 2 waiting in syscall 7 (handler). */
static rp_profile_t *sampled_profile(void)
{
    rp_profile_t *p = base_profile();
    const rp_func_t *hot[] = {&f_main, &f_handler, &f_leaf};
    const rp_func_t *cold[] = {&f_main, &f_cold};
    add_sample(p, hot, 3, 3, 0, RP_PHASE_HANDLER, -1);
    add_sample(p, cold, 2, 1, 0, RP_PHASE_FIXUPS, -1);
    add_sample(p, cold, 2, 2, 1, RP_PHASE_HANDLER, 7);
    rp_profile_end(p);
    p->phases[RP_PHASE_FIXUPS].first_us = 200;
    p->phases[RP_PHASE_FIXUPS].total_us = 900;
    p->phases[RP_PHASE_HANDLER].first_us = 1100;
    p->phases[RP_PHASE_HANDLER].total_us = 5000;
    return p;
}

/* main>handler 2 (self), main>handler>leaf 3, main>cold 1, in that order,
 * on CPU in no phase: one sample per stack. */
static rp_profile_t *three_stacks_profile(void)
{
    rp_profile_t *p = base_profile();
    const rp_func_t *hot[] = {&f_main, &f_handler, &f_leaf};
    const rp_func_t *mid[] = {&f_main, &f_handler};
    const rp_func_t *cold[] = {&f_main, &f_cold};
    add_sample(p, mid, 2, 2, 0, RP_PHASE_NONE, -1);
    add_sample(p, hot, 3, 3, 0, RP_PHASE_NONE, -1);
    add_sample(p, cold, 2, 1, 0, RP_PHASE_NONE, -1);
    rp_profile_end(p);
    return p;
}

/* The sampled profile with hostile request text and a hostile frame. */
static rp_profile_t *hostile_profile(void)
{
    rp_profile_t *p = base_profile();
    p->method = "G\x1b[2JET";
    p->uri = hostile_uri;
    p->protocol = "HTTP/1.1\r\nX: y";
    p->host = "h\x1b]8;;x\x07";
    p->server = "Apache\"\\";
    const rp_func_t *evil[] = {&f_main, &f_evil};
    const rp_func_t *hot[] = {&f_main, &f_handler, &f_leaf};
    add_sample(p, evil, 2, 2, 1, RP_PHASE_HANDLER, 7);
    add_sample(p, hot, 3, 3, 0, RP_PHASE_HANDLER, -1);
    rp_profile_end(p);
    return p;
}

typedef const char *(*render_fn)(const rp_profile_t *, apr_pool_t *,
                                 apr_size_t *);

static const char *render_with(render_fn fn, const rp_profile_t *p,
                               apr_size_t *len)
{
    apr_size_t n = (apr_size_t)-1;
    const char *out = fn(p, pool, &n);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_ne(n, (apr_size_t)-1);
    if (len != NULL) {
        *len = n;
    }
    return out;
}

/* Text formats: length is strlen. */
static const char *render_text(render_fn fn, const rp_profile_t *p)
{
    apr_size_t n;
    const char *out = render_with(fn, p, &n);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

static void assert_contains(const char *s, const char *needle)
{
    ck_assert_msg(strstr(s, needle) != NULL, "output lacks: %s\n--\n%s", needle,
                  s);
}

static void assert_lacks(const char *s, const char *needle)
{
    ck_assert_msg(strstr(s, needle) == NULL, "output contains: %s", needle);
}

static unsigned occurrences(const char *s, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* ---- strict checks of well-formedness ------------------------------------ */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static int utf8_length(const unsigned char *p, size_t n)
{
    int len;
    unsigned cp;
    if (p[0] < 0x80) {
        return 1;
    } else if (p[0] < 0xc2) {
        return 0;
    } else if (p[0] < 0xe0) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] < 0xf0) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] < 0xf5) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > n) {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* Valid UTF-8 with no control character but '\n' (and no C1 control). */
static void assert_printable_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int len = utf8_length(p + i, n - i);
        ck_assert_msg(len > 0, "invalid UTF-8 at byte %zu", i);
        ck_assert_msg(
            !(len == 1 && ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)),
            "control byte 0x%02x at %zu", p[i], i);
        ck_assert_msg(!(len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0),
                      "C1 control at %zu", i);
        i += (size_t)len;
    }
}

typedef struct {
    const char *p, *end;
    int depth;
} json_parser_t;

static int json_value(json_parser_t *j);

static void json_ws(json_parser_t *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) {
        j->p++;
    }
}

static int json_string(json_parser_t *j)
{
    if (j->p >= j->end || *j->p != '"') {
        return 0;
    }
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            if (++j->p >= j->end) {
                return 0;
            }
            if (*j->p == 'u') {
                if (j->end - j->p < 5) {
                    return 0;
                }
                for (int i = 1; i <= 4; i++) {
                    if (strchr("0123456789abcdefABCDEF", j->p[i]) == NULL ||
                        j->p[i] == '\0') {
                        return 0;
                    }
                }
                j->p += 5;
            } else if (*j->p != '\0' && strchr("\"\\/bfnrt", *j->p) != NULL) {
                j->p++;
            } else {
                return 0;
            }
            continue;
        }
        int len =
            utf8_length((const unsigned char *)j->p, (size_t)(j->end - j->p));
        if (len == 0) {
            return 0;
        }
        j->p += len;
    }
    return 0;
}

static int json_digits(json_parser_t *j)
{
    const char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        j->p++;
    }
    return j->p > start;
}

static int json_number(json_parser_t *j)
{
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    } else if (!json_digits(j)) {
        return 0;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!json_digits(j)) {
            return 0;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (!json_digits(j)) {
            return 0;
        }
    }
    return 1;
}

static int json_literal(json_parser_t *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || strncmp(j->p, word, n) != 0) {
        return 0;
    }
    j->p += n;
    return 1;
}

static int json_container(json_parser_t *j, char close, int object)
{
    j->p++; /* the opening bracket */
    if (++j->depth > 1000) {
        return 0;
    }
    json_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        json_ws(j);
        if (object) {
            if (!json_string(j)) {
                return 0;
            }
            json_ws(j);
            if (j->p >= j->end || *j->p != ':') {
                return 0;
            }
            j->p++;
        }
        if (!json_value(j)) {
            return 0;
        }
        json_ws(j);
        if (j->p >= j->end) {
            return 0;
        }
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            j->depth--;
            return 1;
        }
        return 0;
    }
}

static int json_value(json_parser_t *j)
{
    json_ws(j);
    if (j->p >= j->end) {
        return 0;
    }
    switch (*j->p) {
    case '{':
        return json_container(j, '}', 1);
    case '[':
        return json_container(j, ']', 0);
    case '"':
        return json_string(j);
    case 't':
        return json_literal(j, "true");
    case 'f':
        return json_literal(j, "false");
    case 'n':
        return json_literal(j, "null");
    default:
        return json_number(j);
    }
}

/* The whole text is exactly one JSON value (RFC 8259), valid UTF-8. */
static void assert_json(const char *text, size_t n)
{
    json_parser_t j = {.p = text, .end = text + n};
    int ok = json_value(&j);
    json_ws(&j);
    ck_assert_msg(ok && j.p == j.end, "not JSON at offset %ld: %.60s",
                  (long)(j.p - text), j.p);
}

/* ---- rp_buf escaping ------------------------------------------------------
 */

static const char *json_of(const char *s)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_json(&b, s);
    ck_assert_uint_eq(strlen(rp_buf_str(&b)), b.len);
    return rp_buf_str(&b);
}

static const char *plain_of(const char *s, const char *also)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_plain(&b, s, also);
    ck_assert_uint_eq(strlen(rp_buf_str(&b)), b.len);
    return rp_buf_str(&b);
}

static const char *decimal_of(double v, int decimals)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_decimal(&b, v, decimals);
    return rp_buf_str(&b);
}

START_TEST(json_escaping)
{
    ck_assert_str_eq(json_of("plain text"), "plain text");
    ck_assert_str_eq(json_of("a\"b\\c/d"), "a\\\"b\\\\c/d");
    ck_assert_str_eq(json_of("\x01\n\t\x1b\x1f\x7f"),
                     "\\u0001\\u000a\\u0009\\u001b\\u001f\\u007f");
    /* Valid UTF-8 passes; invalid bytes become U+FFFD. */
    ck_assert_str_eq(json_of("\xe2\x82\xac \xc3\xa9"), "\xe2\x82\xac \xc3\xa9");
    ck_assert_str_eq(json_of("a\xff"
                             "b\xc0\xaf"),
                     "a\xef\xbf\xbd"
                     "b\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(json_of("\xed\xa0\x80"), /* a surrogate */
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(json_of("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
    /* C1 controls are valid JSON text but act in some terminals. */
    ck_assert_str_eq(json_of("a\xc2\x9b"
                             "b\xc2\xa0"),
                     "a\\u009bb\xc2\xa0");
    ck_assert_str_eq(json_of(NULL), "");

    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_json_string(&b, NULL);
    rp_buf_puts(&b, ",");
    rp_buf_json_string(&b, "q\"");
    ck_assert_str_eq(rp_buf_str(&b), "null,\"q\\\"\"");
}
END_TEST

START_TEST(plain_escaping)
{
    ck_assert_str_eq(plain_of("a b:c", NULL), "a b:c");
    ck_assert_str_eq(plain_of("\x1b[31mred\a\r\n\t\x7f", NULL),
                     "?[31mred?\??\??");
    /* C1 controls (U+0080..U+009F) too: some terminals obey them. */
    ck_assert_str_eq(plain_of("x\xc2\x9b"
                              "2Jy\xc2\x85",
                              NULL),
                     "x?2Jy?");
    ck_assert_str_eq(plain_of("\xc2\xa0\xe2\x82\xac", NULL),
                     "\xc2\xa0\xe2\x82\xac");
    ck_assert_str_eq(plain_of("bad\xfe\xff", NULL),
                     "bad\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(plain_of("a;b[c]", ";[]"), "a?b?c?");
    ck_assert_str_eq(plain_of(NULL, NULL), "");
}
END_TEST

START_TEST(decimals)
{
    ck_assert_str_eq(decimal_of(1, 3), "1");
    ck_assert_str_eq(decimal_of(0, 3), "0");
    ck_assert_str_eq(decimal_of(0.25, 6), "0.25");
    ck_assert_str_eq(decimal_of(12.5, 3), "12.5");
    ck_assert_str_eq(decimal_of(200.0004, 3), "200");
    ck_assert_str_eq(decimal_of(123.4567, 3), "123.457");
    ck_assert_str_eq(decimal_of(-0.0001, 3), "0");
    ck_assert_str_eq(decimal_of(-2.5, 3), "-2.5");
    ck_assert_str_eq(decimal_of(1500, 0), "1500");
    ck_assert_str_eq(decimal_of(NAN, 3), "0");
    ck_assert_str_eq(decimal_of(INFINITY, 3), "0");
    ck_assert_str_eq(decimal_of(1e300, 3)[0] == '1' ? "ok" : "bad", "ok");
}
END_TEST

/* ---- text ------------------------------------------------------------------
 */

START_TEST(text_header)
{
    const char *t = render_text(rp_text_render, sampled_profile());
    ck_assert_int_eq(
        strncmp(t, "mod_reqprof: GET /work/cpu?ms=5&profile=text HTTP/1.1\n",
                54),
        0);
    assert_contains(t, "Host:     example.test\n");
    assert_contains(t,
                    "Status:   404 (original body: 1234 bytes, discarded)\n");
    assert_contains(t, "wall 6.500 ms, CPU 4.000 ms");
    assert_contains(t, "on CPU 4.000 ms, waiting 2.000 ms");
    assert_contains(t,
                    "Samples:  3 (6 intervals), interval 1000 us, clock wall");
    assert_contains(t, "pid 4242, tid 4343, MPM event\n");
    assert_contains(t, "Started:  Tue, 14 Nov 2023 22:13:20 GMT\n");
    assert_lacks(t, "Lost:");
    assert_printable_utf8(t, strlen(t));
}
END_TEST

START_TEST(text_tree_lines)
{
    const char *t = render_text(rp_text_render, sampled_profile());
    /* cold and handler tie at 3: by name, cold first. */
    assert_contains(t, "\n6.000 ms 100.0%  main  httpd  main.c:10  "
                       "[cpu 4.000 ms, waiting 2.000 ms]\n"
                       "\xe2\x94\x9c\xe2\x94\x80 3.000 ms  50.0%  cold  httpd  "
                       "[cpu 1.000 ms, waiting 2.000 ms]\n"
                       "\xe2\x94\x94\xe2\x94\x80 3.000 ms  50.0%  handler  "
                       "mod_x.so  h.c:77\n"
                       "   \xe2\x94\x94\xe2\x94\x80 3.000 ms  50.0%  leaf  "
                       "libc.so.6\n");
    ck_assert_str_eq(t + strlen(t) - strlen("libc.so.6\n"), "libc.so.6\n");
}
END_TEST

START_TEST(text_guides_continue_below_open_siblings)
{
    /* a>b>c and a>d: c's line is drawn under b's "├─", so it needs "│". */
    static const rp_func_t fa = {.name = "a", .object = "o"};
    static const rp_func_t fb = {.name = "b", .object = "o"};
    static const rp_func_t fc = {.name = "c", .object = "o"};
    static const rp_func_t fd = {.name = "d", .object = "o"};
    rp_profile_t *p = base_profile();
    const rp_func_t *s1[] = {&fa, &fb, &fc};
    const rp_func_t *s2[] = {&fa, &fd};
    rp_tree_add(p->tree, s1, 3, 3, 0);
    rp_tree_add(p->tree, s2, 2, 1, 0);
    rp_tree_sort(p->tree);
    const char *t = render_text(rp_text_render, p);
    assert_contains(t, "\n4.000 ms 100.0%  a  o\n"
                       "\xe2\x94\x9c\xe2\x94\x80 3.000 ms  75.0%  b  o\n"
                       "\xe2\x94\x82  \xe2\x94\x94\xe2\x94\x80 3.000 ms  "
                       "75.0%  c  o\n"
                       "\xe2\x94\x94\xe2\x94\x80 1.000 ms  25.0%  d  o\n");
}
END_TEST

START_TEST(text_prunes_small_frames)
{
    /* 1000 intervals in big, 3 x 1 interval siblings (0.1 % each) and one
     * of 5 (0.497 %, still under 0.5 %), 6 (0.596 %) stays. */
    static const rp_func_t froot = {.name = "root", .object = "o"};
    static const rp_func_t fbig = {.name = "big", .object = "o"};
    static const rp_func_t fmid = {.name = "six", .object = "o"};
    static const rp_func_t fsmall[4] = {{.name = "s1", .object = "o"},
                                        {.name = "s2", .object = "o"},
                                        {.name = "s3", .object = "o"},
                                        {.name = "s5", .object = "o"}};
    rp_profile_t *p = base_profile();
    const rp_func_t *stack[2] = {&froot, &fbig};
    rp_tree_add(p->tree, stack, 2, 994, 0);
    stack[1] = &fmid;
    rp_tree_add(p->tree, stack, 2, 6, 0);
    for (int i = 0; i < 4; i++) {
        stack[1] = &fsmall[i];
        rp_tree_add(p->tree, stack, 2, i == 3 ? 5 : 1, 0);
    }
    rp_tree_sort(p->tree);
    ck_assert_uint_eq(p->tree->root.total, 1008);
    const char *t = render_text(rp_text_render, p);
    assert_contains(t, "  big  o\n");
    assert_contains(t, "\xe2\x94\x9c\xe2\x94\x80 6.000 ms   0.6%  six  o\n");
    assert_lacks(t, "  s1  ");
    assert_lacks(t, "  s5  ");
    assert_contains(t, "\xe2\x94\x94\xe2\x94\x80 \xe2\x80\xa6 4 smaller frames "
                       "(8.000 ms)\n");

    /* One pruned frame is "frame", singular. */
    rp_profile_t *q = base_profile();
    stack[1] = &fbig;
    rp_tree_add(q->tree, stack, 2, 999, 0);
    stack[1] = &fsmall[0];
    rp_tree_add(q->tree, stack, 2, 1, 0);
    rp_tree_sort(q->tree);
    t = render_text(rp_text_render, q);
    assert_contains(t, "\xe2\x80\xa6 1 smaller frame (1.000 ms)\n");
}
END_TEST

START_TEST(text_hostile_strings)
{
    apr_size_t n;
    rp_profile_t *p = hostile_profile();
    const char *t = render_with(rp_text_render, p, &n);
    ck_assert_uint_eq(n, strlen(t));
    assert_printable_utf8(t, n);
    assert_lacks(t, "\x1b");
    /* The request line stays one line: control characters became '?',
     * invalid bytes U+FFFD, valid text stays. */
    assert_contains(t,
                    "mod_reqprof: G?[2JET /x?\?]0;owned?&q=\"a\\b\"?\?<i>"
                    "\xef\xbf\xbd\xef\xbf\xbd?\xe2\x82\xac HTTP/1.1?\?X: y\n");
    assert_contains(t, "Host:     h?]8;;x?\n");
    assert_contains(t, "ev;il?[31m?\?\"\\?\?\xef\xbf\xbd  ob;j[x]?.so  "
                       "e\"v\\il.c?:3  [cpu 0.000 ms, waiting 2.000 ms]\n");
}
END_TEST

START_TEST(text_empty_and_lost)
{
    rp_profile_t *p = base_profile();
    p->method = NULL;
    p->uri = NULL;
    p->host = NULL;
    p->mpm = NULL;
    p->server = NULL;
    p->stats.dropped = 7;
    p->truncated_stacks = 2;
    p->stats.clock = RP_CLOCK_CPU;
    const char *t = render_text(rp_text_render, p);
    assert_contains(t, "mod_reqprof: - - HTTP/1.1\n");
    assert_contains(t, "No samples were taken");
    assert_contains(t, "Lost:     7 samples dropped (buffer full), 2 stacks "
                       "truncated\n");
    assert_contains(t, "clock cpu (on-CPU time only)");
    assert_lacks(t, "100.0%");
}
END_TEST

/* ---- collapsed -------------------------------------------------------------
 */

START_TEST(collapsed_exact)
{
    const char *c = render_text(rp_collapsed_render, three_stacks_profile());
    ck_assert_str_eq(c, "main [httpd];handler [mod_x.so] 2\n"
                        "main [httpd];handler [mod_x.so];leaf [libc.so.6] 3\n"
                        "main [httpd];cold [httpd] 1\n");
    c = render_text(rp_collapsed_render, sampled_profile());
    ck_assert_str_eq(c, "main [httpd];cold [httpd] 3\n"
                        "main [httpd];handler [mod_x.so];leaf [libc.so.6] 3\n");
}
END_TEST

/* Parses folded lines as flamegraph.pl does (count after the last space,
 * frames split at ';') and checks every frame is "name [object]". */
static uint64_t check_folded(const char *text, unsigned *lines)
{
    uint64_t total = 0;
    *lines = 0;
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        char *copy = apr_pstrndup(pool, line, (apr_size_t)(nl - line));
        char *space = strrchr(copy, ' ');
        ck_assert_ptr_nonnull(space);
        *space = '\0';
        char *end;
        unsigned long long count = strtoull(space + 1, &end, 10);
        ck_assert_msg(*end == '\0' && count > 0 && space[1] != '\0',
                      "bad count in: %s", line);
        total += count;
        ck_assert_msg(copy[strlen(copy) - 1] == ']', "frame end: %s", copy);
        char *save = NULL;
        for (char *frame = apr_strtok(copy, ";", &save); frame;
             frame = apr_strtok(NULL, ";", &save)) {
            ck_assert_uint_gt(strlen(frame), 0);
            char *bracket = strrchr(frame, '[');
            ck_assert_msg(bracket != NULL && bracket > frame &&
                              bracket[-1] == ' ' &&
                              frame[strlen(frame) - 1] == ']',
                          "frame not \"name [object]\": %s", frame);
        }
        (*lines)++;
        line = nl + 1;
    }
    return total;
}

START_TEST(collapsed_bracketed_objects)
{
    static const rp_func_t vdso = {.name = "clock_gettime", .object = "[vdso]"};
    static const rp_func_t sys = {.name = "[syscall poll]",
                                  .object = "[kernel]"};
    static const rp_func_t odd = {.name = "f", .object = "[a]b]"};
    rp_profile_t *p = base_profile();
    const rp_func_t *s1[] = {&f_main, &vdso};
    const rp_func_t *s2[] = {&f_main, &sys};
    const rp_func_t *s3[] = {&f_main, &odd};
    rp_tree_add(p->tree, s1, 2, 3, 0);
    rp_tree_add(p->tree, s2, 2, 2, 1);
    rp_tree_add(p->tree, s3, 2, 1, 0);
    rp_tree_sort(p->tree);
    const char *c = render_text(rp_collapsed_render, p);
    ck_assert_str_eq(c, "main [httpd];clock_gettime [vdso] 3\n"
                        "main [httpd];[syscall poll] [kernel] 2\n"
                        "main [httpd];f [?a?b?] 1\n");
    unsigned lines;
    ck_assert_uint_eq(check_folded(c, &lines), 6);
}
END_TEST

START_TEST(collapsed_hostile_names)
{
    apr_size_t n;
    rp_profile_t *p = hostile_profile();
    const char *c = render_with(rp_collapsed_render, p, &n);
    ck_assert_uint_eq(n, strlen(c));
    assert_printable_utf8(c, n);
    ck_assert_str_eq(c, "main [httpd];handler [mod_x.so];leaf [libc.so.6] 3\n"
                        "main [httpd];ev?il?[31m?\?\"\\?\?\xef\xbf\xbd "
                        "[ob?j?x?\?.so] 2\n");
    unsigned lines;
    ck_assert_uint_eq(check_folded(c, &lines), p->tree->root.total);
    ck_assert_uint_eq(lines, 2);
    /* Each line has exactly as many frames as its depth. */
    ck_assert_uint_eq(occurrences(c, ";"), 3);
}
END_TEST

START_TEST(collapsed_empty_stack_and_empty_profile)
{
    rp_profile_t *p = three_stacks_profile();
    rp_tree_add(p->tree, NULL, 0, 4, 0);
    const char *c = render_text(rp_collapsed_render, p);
    ck_assert_int_eq(strncmp(c, RP_COLLAPSED_EMPTY_STACK " 4\n", 13), 0);
    ck_assert_uint_eq(occurrences(c, "\n"), 4);
    c = render_text(rp_collapsed_render, base_profile());
    ck_assert_str_eq(c, "");
}
END_TEST

/* ---- speedscope ------------------------------------------------------------
 */

START_TEST(speedscope_document)
{
    apr_size_t n;
    const char *s = render_with(rp_speedscope_render, sampled_profile(), &n);
    ck_assert_uint_eq(n, strlen(s));
    assert_json(s, n);
    ck_assert_int_eq(strncmp(s,
                             "{\"$schema\":\"https://www.speedscope.app/"
                             "file-format-schema.json\"",
                             61),
                     0);
    assert_contains(s, "\"exporter\":\"mod_reqprof\"");
    assert_contains(s, "\"name\":\"GET /work/cpu?ms=5&profile=text\"");
    /* Frames in depth-first order of the sorted tree. */
    assert_contains(s,
                    "\"frames\":[\n{\"name\":\"main\",\"file\":\"main.c\","
                    "\"line\":10},\n{\"name\":\"cold\",\"file\":\"httpd\"},\n"
                    "{\"name\":\"handler\",\"file\":\"h.c\",\"line\":77},\n"
                    "{\"name\":\"leaf\",\"file\":\"libc.so.6\"}]}");
    assert_contains(s, "{\"type\":\"sampled\",\"name\":\"GET "
                       "/work/cpu?ms=5&profile=text\",\"unit\":"
                       "\"milliseconds\",\"startValue\":0,\"endValue\":6,");
    /* Samples in time order, root first, weighted in ms. */
    assert_contains(s, "\"samples\":[[0,2,3],[0,1],[0,1]]");
    assert_contains(s, "\"weights\":[3,1,2]}]}\n");
}
END_TEST

START_TEST(speedscope_fractional_weights)
{
    rp_profile_t *p = three_stacks_profile();
    p->stats.interval_us = 250;
    apr_size_t n;
    const char *s = render_with(rp_speedscope_render, p, &n);
    assert_json(s, n);
    /* One sample per stack, in the order they were taken. */
    assert_contains(s, "\"samples\":[[0,1],[0,1,2],[0,3]]");
    assert_contains(s, "\"weights\":[0.5,0.75,0.25]");
    assert_contains(s, "\"endValue\":1.5,");
}
END_TEST

START_TEST(speedscope_hostile_and_empty)
{
    apr_size_t n;
    const char *s = render_with(rp_speedscope_render, hostile_profile(), &n);
    assert_json(s, n);
    assert_printable_utf8(s, n);
    assert_contains(s, "\"name\":\"G\\u001b[2JET /x?\\u001b]0;owned\\u0007"
                       "&q=\\\"a\\\\b\\\"\\u000a\\u000d<i>\xef\xbf\xbd"
                       "\xef\xbf\xbd\\u009b\xe2\x82\xac\"");
    assert_contains(s, "{\"name\":\"ev;il\\u001b[31m\\u0007\\u000a\\\"\\\\"
                       "\\u007f\\u009b\xef\xbf\xbd\",\"file\":"
                       "\"e\\\"v\\\\il.c\\u000d\",\"line\":3}");
    s = render_with(rp_speedscope_render, base_profile(), &n);
    assert_json(s, n);
    assert_contains(s, "\"frames\":[]");
    assert_contains(s, "\"endValue\":0,");
    assert_contains(s, "\"samples\":[],\n\"weights\":[]");
}
END_TEST

/* ---- JSON ------------------------------------------------------------------
 */

START_TEST(json_document)
{
    apr_size_t n;
    const char *j = render_with(rp_json_render, sampled_profile(), &n);
    ck_assert_uint_eq(n, strlen(j));
    assert_json(j, n);
    ck_assert_int_eq(
        strncmp(j, "{\"format\":\"mod_reqprof\",\"version\":1,", 36), 0);
    assert_contains(j,
                    "\"request\":{\"method\":\"GET\",\"uri\":\"/work/cpu?"
                    "ms=5&profile=text\",\"protocol\":\"HTTP/1.1\",\"host\":"
                    "\"example.test\",\"status\":404,\"discarded_bytes\":1234,"
                    "\"started\":\"2023-11-14T22:13:19.998500Z\","
                    "\"started_us\":1699999999998500}");
    assert_contains(j, "\"process\":{\"server\":\"Apache/2.4 (Unix)\",\"mpm\":"
                       "\"event\",\"pid\":4242,\"tid\":4343}");
    assert_contains(j, "\"sampling\":{\"clock\":\"wall\",\"interval_us\":1000,"
                       "\"started\":\"2023-11-14T22:13:20.000000Z\","
                       "\"started_us\":1700000000000000,\"wall_ms\":6.5,"
                       "\"cpu_ms\":4,\"samples\":3,\"intervals\":6,"
                       "\"wait_intervals\":2,\"on_cpu_ms\":4,\"waiting_ms\":2,"
                       "\"proc_readable\":false,");
    assert_contains(j, "\"dropped\":0,\"truncated_stacks\":0}");
    assert_contains(j, "\"phases\":{\"fixups\":{\"first_us\":200,\"total_us\":"
                       "900,\"intervals\":1},\"handler\":{\"first_us\":1100,"
                       "\"total_us\":5000,\"intervals\":5}}");
    assert_contains(j, "\"frames\":[\n{\"name\":\"main\",\"object\":\"httpd\","
                       "\"file\":\"main.c\",\"line\":10,\"resolved\":true},\n"
                       "{\"name\":\"cold\",\"object\":\"httpd\",\"file\":null,"
                       "\"line\":0,\"resolved\":false},");
    assert_contains(j,
                    "\"tree\":{\"id\":0,\"frame\":null,\"total\":6,\"self\":0,"
                    "\"wait\":2,\"children\":[\n{\"id\":1,\"frame\":0,"
                    "\"total\":6,\"self\":0,\"wait\":2,\"children\":[\n"
                    "{\"id\":2,\"frame\":1,\"total\":3,\"self\":3,\"wait\":2,"
                    "\"children\":[]},\n{\"id\":3,\"frame\":2,\"total\":3,"
                    "\"self\":0,\"wait\":0,\"children\":[\n{\"id\":4,"
                    "\"frame\":3,\"total\":3,\"self\":3,\"wait\":0,"
                    "\"children\":[]}]}]}]}");
    assert_contains(j,
                    "\"samples\":[\n"
                    "{\"t_us\":0,\"weight\":3,\"waiting\":false,\"phase\":"
                    "\"handler\",\"syscall\":null,\"node\":4},\n"
                    "{\"t_us\":3000,\"weight\":1,\"waiting\":false,\"phase\":"
                    "\"fixups\",\"syscall\":null,\"node\":2},\n"
                    "{\"t_us\":4000,\"weight\":2,\"waiting\":true,\"phase\":"
                    "\"handler\",\"syscall\":7,\"node\":2}]}\n");
}
END_TEST

START_TEST(json_hostile_and_missing)
{
    apr_size_t n;
    rp_profile_t *p = hostile_profile();
    p->stats.clock = RP_CLOCK_CPU;
    p->stats.proc_readable = 1;
    p->mpm = NULL;
    p->request_started = 0;
    const char *j = render_with(rp_json_render, p, &n);
    assert_json(j, n);
    assert_printable_utf8(j, n);
    assert_contains(j, "\"method\":\"G\\u001b[2JET\"");
    assert_contains(j, "\"uri\":\"/x?\\u001b]0;owned\\u0007&q=\\\"a\\\\b\\\""
                       "\\u000a\\u000d<i>\xef\xbf\xbd\xef\xbf\xbd\\u009b"
                       "\xe2\x82\xac\"");
    assert_contains(j, "\"protocol\":\"HTTP/1.1\\u000d\\u000aX: y\"");
    assert_contains(j, "\"started\":null,\"started_us\":null}");
    assert_contains(j, "\"server\":\"Apache\\\"\\\\\",\"mpm\":null");
    assert_contains(j, "\"clock\":\"cpu\"");
    assert_contains(j, "\"proc_readable\":true");
    assert_contains(j, "{\"name\":\"ev;il\\u001b[31m\\u0007\\u000a\\\"\\\\"
                       "\\u007f\\u009b\xef\xbf\xbd\",\"object\":\"ob;j[x]"
                       "\\u0009.so\",\"file\":\"e\\\"v\\\\il.c\\u000d\"");
}
END_TEST

START_TEST(json_collapse_and_modules)
{
    static const rp_object_module_t modules[] = {
        {.object = "mod_rpwork.so", .module = "rpwork_module"},
        {.object = "mod_\"x\".so", .module = "x_module"}};
    static const char *const collapse[] = {"libc.so*", "[vdso]"};
    rp_profile_t *p = sampled_profile();
    apr_size_t n;
    const char *j = render_with(rp_json_render, p, &n);
    assert_json(j, n);
    /* None configured: empty lists. */
    assert_contains(j, "\"collapse\":[],\n\"modules\":[]");
    p->modules = modules;
    p->module_count = 2;
    p->collapse = collapse;
    p->collapse_count = 2;
    j = render_with(rp_json_render, p, &n);
    assert_json(j, n);
    assert_contains(j, "\"collapse\":[\"libc.so*\",\"[vdso]\"],\n\"modules\":["
                       "\n{\"object\":\"mod_rpwork.so\",\"module\":"
                       "\"rpwork_module\"},\n{\"object\":\"mod_\\\"x\\\".so\","
                       "\"module\":\"x_module\"}],\n\"frames\":[");
}
END_TEST

START_TEST(json_empty_profile)
{
    apr_size_t n;
    const char *j = render_with(rp_json_render, base_profile(), &n);
    assert_json(j, n);
    assert_contains(j, "\"phases\":{}");
    assert_contains(j, "\"frames\":[]");
    assert_contains(j, "\"tree\":{\"id\":0,\"frame\":null,\"total\":0,"
                       "\"self\":0,\"wait\":0,\"children\":[]}");
    assert_contains(j, "\"samples\":[]}");
}
END_TEST

/* ---- pprof -----------------------------------------------------------------
 */

static unsigned char *gunzip(const char *data, apr_size_t n,
                             apr_size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    apr_size_t cap = 4096;
    unsigned char *out = apr_palloc(pool, cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (z.total_out == cap) {
            unsigned char *grown = apr_palloc(pool, cap * 2);
            memcpy(grown, out, cap);
            out = grown;
            cap *= 2;
        }
        z.next_out = out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
    } while (rc == Z_OK);
    ck_assert_int_eq(rc, Z_STREAM_END);
    ck_assert_uint_eq(z.avail_in, 0); /* nothing after the gzip member */
    *out_len = z.total_out;
    inflateEnd(&z);
    return out;
}

typedef struct {
    const unsigned char *p, *end;
} pb_reader_t;

static uint64_t pb_read_varint(pb_reader_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        ck_assert_msg(r->p < r->end, "truncated varint");
        unsigned char byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            return v;
        }
    }
    ck_abort_msg("varint too long");
    return 0;
}

/* One field: returns 0 at the end. Only wire types 0 and 2 are expected. */
static int pb_next(pb_reader_t *r, unsigned *field, uint64_t *value,
                   pb_reader_t *sub)
{
    if (r->p >= r->end) {
        return 0;
    }
    uint64_t tag = pb_read_varint(r);
    *field = (unsigned)(tag >> 3);
    ck_assert_uint_gt(*field, 0);
    switch (tag & 7) {
    case 0:
        *value = pb_read_varint(r);
        sub->p = sub->end = NULL;
        return 1;
    case 2: {
        uint64_t n = pb_read_varint(r);
        ck_assert_msg(n <= (uint64_t)(r->end - r->p), "length past the end");
        sub->p = r->p;
        sub->end = r->p + n;
        r->p += n;
        *value = n;
        return 1;
    }
    default:
        ck_abort_msg("unexpected wire type %u", (unsigned)(tag & 7));
        return 0;
    }
}

typedef struct {
    apr_array_header_t *strings; /* const char * */
    unsigned sample_types, samples, locations, functions, mappings;
    uint64_t value_sums[4];
    uint64_t period;
    uint64_t period_type_name;
    uint64_t default_type;
    unsigned max_location_id;
    unsigned labels;
} pprof_t;

static pprof_t *decode_pprof(const char *gz, apr_size_t n)
{
    ck_assert_uint_gt(n, 18);
    ck_assert_uint_eq((unsigned char)gz[0], 0x1f);
    ck_assert_uint_eq((unsigned char)gz[1], 0x8b);
    ck_assert_uint_eq((unsigned char)gz[2], 8); /* deflate */
    apr_size_t len;
    unsigned char *raw = gunzip(gz, n, &len);
    /* Starts with a valid tag: field 1 (sample_type), length-delimited. */
    ck_assert_uint_eq(raw[0], (1 << 3) | 2);
    pprof_t *pp = apr_pcalloc(pool, sizeof(*pp));
    pp->strings = apr_array_make(pool, 16, sizeof(const char *));
    pb_reader_t r = {raw, raw + len}, sub, inner, packed;
    unsigned field, f2, f3;
    uint64_t v, v2, v3;
    while (pb_next(&r, &field, &v, &sub)) {
        switch (field) {
        case 1:
            pp->sample_types++;
            break;
        case 2:
            pp->samples++;
            while (pb_next(&sub, &f2, &v2, &inner)) {
                if (f2 == 1) {
                    ck_assert_ptr_nonnull(inner.p); /* packed */
                    while (inner.p < inner.end) {
                        uint64_t id = pb_read_varint(&inner);
                        ck_assert_uint_gt(id, 0);
                        if (id > pp->max_location_id) {
                            pp->max_location_id = (unsigned)id;
                        }
                    }
                } else if (f2 == 2) {
                    ck_assert_ptr_nonnull(inner.p);
                    for (int i = 0; inner.p < inner.end; i++) {
                        ck_assert_int_lt(i, 4);
                        pp->value_sums[i] += pb_read_varint(&inner);
                    }
                } else if (f2 == 3) {
                    pp->labels++;
                    while (pb_next(&inner, &f3, &v3, &packed)) {
                        ck_assert_uint_le(f3, 4);
                    }
                }
            }
            break;
        case 3:
            pp->mappings++;
            break;
        case 4:
            pp->locations++;
            break;
        case 5:
            pp->functions++;
            break;
        case 6:
            ck_assert_ptr_nonnull(sub.p);
            APR_ARRAY_PUSH(pp->strings, const char *) = apr_pstrndup(
                pool, (const char *)sub.p, (apr_size_t)(sub.end - sub.p));
            ck_assert_uint_eq(
                strlen(APR_ARRAY_IDX(pp->strings, pp->strings->nelts - 1,
                                     const char *)),
                (size_t)(sub.end - sub.p));
            break;
        case 11:
            while (pb_next(&sub, &f2, &v2, &inner)) {
                if (f2 == 1) {
                    pp->period_type_name = v2;
                }
            }
            break;
        case 12:
            pp->period = v;
            break;
        case 14:
            pp->default_type = v;
            break;
        default:
            ck_assert_msg(field <= 16, "unknown field %u", field);
        }
    }
    ck_assert_int_gt(pp->strings->nelts, 0);
    ck_assert_str_eq(APR_ARRAY_IDX(pp->strings, 0, const char *), "");
    ck_assert_uint_le(pp->max_location_id, pp->locations);
    ck_assert_uint_lt(pp->period_type_name, pp->strings->nelts);
    ck_assert_uint_lt(pp->default_type, pp->strings->nelts);
    return pp;
}

static pprof_t *pprof_of(const rp_profile_t *p)
{
    apr_size_t n;
    const char *gz = render_with(rp_pprof_render, p, &n);
    return decode_pprof(gz, n);
}

static int has_string(const pprof_t *pp, const char *s)
{
    for (int i = 0; i < pp->strings->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(pp->strings, i, const char *), s) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *string_at(const pprof_t *pp, uint64_t i)
{
    return APR_ARRAY_IDX(pp->strings, (int)i, const char *);
}

START_TEST(pprof_wall_profile)
{
    apr_size_t n;
    const char *gz = render_with(rp_pprof_render, sampled_profile(), &n);
    pprof_t *pp = decode_pprof(gz, n);
    ck_assert_uint_eq(pp->sample_types, 3);
    ck_assert_uint_eq(pp->samples, 3); /* nothing to merge here */
    ck_assert_uint_eq(pp->labels, 6);  /* phase and waiting on each */
    ck_assert_uint_eq(pp->functions, 4);
    ck_assert_uint_eq(pp->locations, 4);
    ck_assert_uint_eq(pp->mappings, 3);      /* httpd, mod_x.so, libc.so.6 */
    ck_assert_uint_eq(pp->value_sums[0], 3); /* samples */
    ck_assert_uint_eq(pp->value_sums[1], 6000000); /* wall ns */
    ck_assert_uint_eq(pp->value_sums[2], 4000000); /* cpu ns */
    ck_assert_uint_eq(pp->period, 1000000);
    ck_assert_str_eq(string_at(pp, pp->period_type_name), "wall");
    ck_assert_str_eq(string_at(pp, pp->default_type), "wall");
    const char *expected[] = {
        "samples", "count",   "wall",   "nanoseconds", "cpu",  "main",
        "handler", "leaf",    "cold",   "main.c",      "h.c",  "httpd",
        "phase",   "handler", "fixups", "waiting",     "true", "false"};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        ck_assert_msg(has_string(pp, expected[i]), "no string %s", expected[i]);
    }
}
END_TEST

START_TEST(pprof_merges_and_cpu_clock)
{
    rp_profile_t *p = base_profile();
    p->stats.clock = RP_CLOCK_CPU;
    p->stats.interval_us = 500;
    const rp_func_t *hot[] = {&f_main, &f_handler};
    for (int i = 0; i < 10; i++) {
        add_sample(p, hot, 2, 2, 0, RP_PHASE_HANDLER, -1);
    }
    add_sample(p, hot, 2, 1, 0, RP_PHASE_FIXUPS, -1);
    rp_profile_end(p);
    pprof_t *pp = pprof_of(p);
    ck_assert_uint_eq(pp->sample_types, 2); /* samples, cpu */
    ck_assert_uint_eq(pp->samples, 2);      /* by phase */
    ck_assert_uint_eq(pp->value_sums[0], 11);
    ck_assert_uint_eq(pp->value_sums[1], 21 * 500000);
    ck_assert_uint_eq(pp->period, 500000);
    ck_assert_str_eq(string_at(pp, pp->period_type_name), "cpu");
    ck_assert_str_eq(string_at(pp, pp->default_type), "cpu");
    ck_assert(!has_string(pp, "wall"));
}
END_TEST

START_TEST(pprof_hostile_strings_and_empty)
{
    pprof_t *pp = pprof_of(hostile_profile());
    /* Every string is printable UTF-8 (pprof prints them to terminals). */
    for (int i = 0; i < pp->strings->nelts; i++) {
        const char *s = string_at(pp, (uint64_t)i);
        assert_printable_utf8(s, strlen(s));
        ck_assert(strchr(s, '\n') == NULL);
    }
    ck_assert(has_string(pp, "ev;il?[31m?\?\"\\?\?\xef\xbf\xbd"));
    ck_assert(has_string(pp, "ob;j[x]?.so"));
    ck_assert(has_string(pp, "mod_reqprof: G?[2JET /x?\?]0;owned?&q=\"a\\b\"?\?"
                             "<i>\xef\xbf\xbd\xef\xbf\xbd?\xe2\x82\xac "
                             "HTTP/1.1?\?X: y"));
    ck_assert_uint_eq(pp->value_sums[2], 3000000); /* cpu: not the wait */

    pp = pprof_of(base_profile());
    ck_assert_uint_eq(pp->samples, 0);
    ck_assert_uint_eq(pp->functions, 0);
    ck_assert_uint_eq(pp->sample_types, 3);
}
END_TEST

/* ---- every format
 * ------------------------------------------------------------ */

START_TEST(large_tree_every_format)
{
    enum { DEPTH = 120, WIDE = 1500 };
    static rp_func_t chain[DEPTH];
    static rp_func_t wide[WIDE];
    static char names[DEPTH + WIDE][16];
    const rp_func_t *frames[DEPTH + 1];
    rp_profile_t *p = base_profile();
    for (unsigned i = 0; i < DEPTH; i++) {
        snprintf(names[i], sizeof(names[i]), "chain%u", i);
        chain[i].name = names[i];
        chain[i].object = "o";
        frames[i] = &chain[i];
    }
    add_sample(p, frames, DEPTH, 5000, 0, RP_PHASE_HANDLER, -1);
    for (unsigned i = 0; i < WIDE; i++) {
        snprintf(names[DEPTH + i], sizeof(names[0]), "wide%u", i);
        wide[i].name = names[DEPTH + i];
        wide[i].object = "o";
        frames[1] = &wide[i];
        add_sample(p, frames, 2, 1, (int)(i % 2), RP_PHASE_HANDLER,
                   i % 2 ? 7 : -1);
    }
    rp_profile_end(p);
    apr_size_t n;
    const char *t = render_text(rp_text_render, p);
    assert_contains(t, "\xe2\x80\xa6 1500 smaller frames (1500.000 ms)\n");
    assert_contains(t, "  chain119  o\n");
    const char *c = render_text(rp_collapsed_render, p);
    unsigned lines;
    ck_assert_uint_eq(check_folded(c, &lines), 6500);
    ck_assert_uint_eq(lines, 1 + WIDE);
    const char *s = render_with(rp_speedscope_render, p, &n);
    assert_json(s, n);
    const char *j = render_with(rp_json_render, p, &n);
    assert_json(j, n);
    ck_assert_uint_eq(occurrences(j, "{\"id\":"), 1 + DEPTH + WIDE);
    pprof_t *pp = pprof_of(p);
    ck_assert_uint_eq(pp->functions, DEPTH + WIDE);
    ck_assert_uint_eq(pp->mappings, 1);
}
END_TEST

Suite *exporters_suite(void)
{
    Suite *s = suite_create("exporters");
    TCase *esc = tcase_create("escaping");
    tcase_add_checked_fixture(esc, setup, teardown);
    tcase_add_test(esc, json_escaping);
    tcase_add_test(esc, plain_escaping);
    tcase_add_test(esc, decimals);
    suite_add_tcase(s, esc);

    TCase *text = tcase_create("text");
    tcase_add_checked_fixture(text, setup, teardown);
    tcase_add_test(text, text_header);
    tcase_add_test(text, text_tree_lines);
    tcase_add_test(text, text_guides_continue_below_open_siblings);
    tcase_add_test(text, text_prunes_small_frames);
    tcase_add_test(text, text_hostile_strings);
    tcase_add_test(text, text_empty_and_lost);
    suite_add_tcase(s, text);

    TCase *collapsed = tcase_create("collapsed");
    tcase_add_checked_fixture(collapsed, setup, teardown);
    tcase_add_test(collapsed, collapsed_exact);
    tcase_add_test(collapsed, collapsed_bracketed_objects);
    tcase_add_test(collapsed, collapsed_hostile_names);
    tcase_add_test(collapsed, collapsed_empty_stack_and_empty_profile);
    suite_add_tcase(s, collapsed);

    TCase *speedscope = tcase_create("speedscope");
    tcase_add_checked_fixture(speedscope, setup, teardown);
    tcase_add_test(speedscope, speedscope_document);
    tcase_add_test(speedscope, speedscope_fractional_weights);
    tcase_add_test(speedscope, speedscope_hostile_and_empty);
    suite_add_tcase(s, speedscope);

    TCase *json = tcase_create("json");
    tcase_add_checked_fixture(json, setup, teardown);
    tcase_add_test(json, json_document);
    tcase_add_test(json, json_hostile_and_missing);
    tcase_add_test(json, json_collapse_and_modules);
    tcase_add_test(json, json_empty_profile);
    suite_add_tcase(s, json);

    TCase *pprof = tcase_create("pprof");
    tcase_add_checked_fixture(pprof, setup, teardown);
    tcase_add_test(pprof, pprof_wall_profile);
    tcase_add_test(pprof, pprof_merges_and_cpu_clock);
    tcase_add_test(pprof, pprof_hostile_strings_and_empty);
    suite_add_tcase(s, pprof);

    TCase *all = tcase_create("every format");
    tcase_add_checked_fixture(all, setup, teardown);
    tcase_add_test(all, large_tree_every_format);
    suite_add_tcase(s, all);
    return s;
}
