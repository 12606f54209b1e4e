/* rp_buf: growth, printf, and the HTML escaping every renderer relies on. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "unit_suites.h"

#define FFFD "\xef\xbf\xbd"

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

/* The escaped form of s, through a fresh buffer. */
static const char *html(const char *s)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_html(&b, s);
    ck_assert_uint_eq(strlen(rp_buf_str(&b)), b.len);
    return rp_buf_str(&b);
}

/* A string of n copies of the 26 letters in turn, in pool. */
static char *pattern(apr_size_t n)
{
    char *s = apr_palloc(pool, n + 1);
    for (apr_size_t i = 0; i < n; i++) {
        s[i] = (char)('a' + i % 26);
    }
    s[n] = '\0';
    return s;
}

START_TEST(init_is_empty_string)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_ge(b.cap, 1);
    ck_assert_str_eq(rp_buf_str(&b), "");
}
END_TEST

START_TEST(append_grows_past_initial_capacity)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 16);
    apr_size_t first_cap = b.cap;
    const char *big = pattern(100000);
    /* Small appends first, so growth copies what is already there. */
    for (int i = 0; i < 100; i++) {
        rp_buf_append(&b, "0123456789", 10);
    }
    rp_buf_puts(&b, big);
    rp_buf_append(&b, "tail!ignored", 5);
    ck_assert_uint_eq(b.len, 1000 + 100000 + 5);
    ck_assert_uint_gt(b.cap, first_cap);
    ck_assert_uint_gt(b.cap, b.len);
    const char *s = rp_buf_str(&b);
    ck_assert_uint_eq(strlen(s), b.len);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(memcmp(s + 10 * i, "0123456789", 10), 0);
    }
    ck_assert_int_eq(memcmp(s + 1000, big, 100000), 0);
    ck_assert_str_eq(s + 1000 + 100000, "tail!");
}
END_TEST

START_TEST(append_exactly_to_capacity)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 64);
    /* 63 bytes plus the NUL fill it; one more must grow it. */
    const char *s63 = pattern(63);
    rp_buf_puts(&b, s63);
    ck_assert_str_eq(rp_buf_str(&b), s63);
    rp_buf_puts(&b, "X");
    ck_assert_uint_eq(b.len, 64);
    ck_assert_uint_gt(b.cap, 64);
    ck_assert_int_eq(memcmp(rp_buf_str(&b), s63, 63), 0);
    ck_assert_str_eq(rp_buf_str(&b) + 63, "X");
    rp_buf_append(&b, "", 0);
    ck_assert_uint_eq(b.len, 64);
}
END_TEST

START_TEST(printf_small_and_large)
{
    /* Around the 256-byte stack buffer of rp_buf_printf, and far past it. */
    static const apr_size_t sizes[] = {0,   1,   200, 253, 254,  255,
                                       256, 257, 300, 511, 4096, 70000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        rp_buf_t b;
        rp_buf_init(&b, pool, 0);
        const char *body = pattern(sizes[k]);
        rp_buf_puts(&b, "<");
        rp_buf_printf(&b, "%s|%d|%s", body, 42, "end");
        rp_buf_printf(&b, ">%u", 7u);
        const char *expected =
            apr_psprintf(pool, "<%s|%d|%s>%u", body, 42, "end", 7u);
        ck_assert_msg(strcmp(rp_buf_str(&b), expected) == 0,
                      "printf of a %zu-byte string differs", (size_t)sizes[k]);
        ck_assert_uint_eq(b.len, strlen(expected));
    }
}
END_TEST

START_TEST(html_escapes_markup)
{
    ck_assert_str_eq(html("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    ck_assert_str_eq(html("<script>alert(1)</script>"),
                     "&lt;script&gt;alert(1)&lt;/script&gt;");
    ck_assert_str_eq(html("&amp;"), "&amp;amp;");
    ck_assert_str_eq(html("plain text 123"), "plain text 123");
    ck_assert_str_eq(html(""), "");
}
END_TEST

START_TEST(html_control_characters)
{
    ck_assert_str_eq(html("a\tb\nc"), "a\tb\nc");
    ck_assert_str_eq(html("a\rb"), "a" FFFD "b");
    ck_assert_str_eq(html("\x01"), FFFD);
    ck_assert_str_eq(html("x\x1b[0m"), "x" FFFD "[0m");
    ck_assert_str_eq(html("\x1f\x7f"), FFFD FFFD);
    ck_assert_str_eq(html(" ~"), " ~");
}
END_TEST

START_TEST(html_keeps_valid_utf8)
{
    /* 2-, 3- and 4-byte sequences, at the edges of their ranges too. */
    const char *valid[] = {
        "caf\xc3\xa9",               /* U+00E9 */
        "\xc2\x80",                  /* U+0080, the first 2-byte one */
        "\xdf\xbf",                  /* U+07FF */
        "\xe0\xa0\x80",              /* U+0800, the first 3-byte one */
        "\xe2\x82\xac 5",            /* U+20AC euro */
        "\xed\x9f\xbf",              /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",              /* U+E000, just above them */
        "\xef\xbf\xbd",              /* U+FFFD itself */
        "\xf0\x9f\x98\x80",          /* U+1F600 */
        "\xf4\x8f\xbf\xbf",          /* U+10FFFF, the last one */
        "\xe6\x97\xa5\xe6\x9c\xac<", /* CJK then markup */
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const char *out = html(valid[i]);
        if (strchr(valid[i], '<') != NULL) {
            ck_assert_str_eq(out, "\xe6\x97\xa5\xe6\x9c\xac&lt;");
        } else {
            ck_assert_msg(strcmp(out, valid[i]) == 0,
                          "valid UTF-8 #%zu was changed", i);
        }
    }
}
END_TEST

START_TEST(html_replaces_invalid_utf8)
{
    /* A lone continuation byte. */
    ck_assert_str_eq(html("a\x80z"), "a" FFFD "z");
    ck_assert_str_eq(html("\xbf"), FFFD);
    /* Overlong encodings of NUL and '/'. */
    ck_assert_str_eq(html("\xc0\x80"), FFFD FFFD);
    ck_assert_str_eq(html("\xc1\xbf"), FFFD FFFD);
    ck_assert_str_eq(html("\xe0\x80\xaf"), FFFD FFFD FFFD);
    ck_assert_str_eq(html("\xf0\x80\x80\xaf"), FFFD FFFD FFFD FFFD);
    /* UTF-16 surrogates. */
    ck_assert_str_eq(html("\xed\xa0\x80"), FFFD FFFD FFFD);
    ck_assert_str_eq(html("\xed\xbf\xbf"), FFFD FFFD FFFD);
    /* Past U+10FFFF, and bytes that never occur. */
    ck_assert_str_eq(html("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
    ck_assert_str_eq(html("\xf5"), FFFD);
    ck_assert_str_eq(html("\xff\xfe"), FFFD FFFD);
    /* A lead byte followed by ASCII: the ASCII survives. */
    ck_assert_str_eq(html("\xc3<"), FFFD "&lt;");
    ck_assert_str_eq(html("\xe2\x82x"), FFFD FFFD "x");
}
END_TEST

START_TEST(html_truncated_sequence_at_end)
{
    /* The scan must stop at the NUL, not read past it. */
    ck_assert_str_eq(html("ok\xc3"), "ok" FFFD);
    ck_assert_str_eq(html("ok\xe2\x82"), "ok" FFFD FFFD);
    ck_assert_str_eq(html("ok\xf0\x9f\x98"), "ok" FFFD FFFD FFFD);
    /* Same bytes in a heap block of exactly their size, for valgrind. */
    char *exact = malloc(4);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, "\xf0\x9f\x98", 4);
    ck_assert_str_eq(html(exact), FFFD FFFD FFFD);
    free(exact);
}
END_TEST

START_TEST(html_output_is_valid_utf8)
{
    /* Every byte value after a prefix: the output must never carry a raw
     * markup character or an invalid byte. */
    for (int c = 1; c < 256; c++) {
        char in[4] = {'x', (char)c, 'y', '\0'};
        const char *out = html(in);
        ck_assert_ptr_null(strpbrk(out + 1, "<>\"'"));
        if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            ck_assert_msg(strcmp(out, "x" FFFD "y") == 0,
                          "byte 0x%02x was not replaced", c);
        }
    }
}
END_TEST

START_TEST(html_null_is_ignored)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_puts(&b, "keep");
    rp_buf_html(&b, NULL);
    ck_assert_str_eq(rp_buf_str(&b), "keep");
    ck_assert_uint_eq(b.len, 4);
}
END_TEST

START_TEST(html_large_input_grows)
{
    /* Escaping multiplies the size: "<" becomes four bytes. */
    apr_size_t n = 50000;
    char *in = apr_palloc(pool, n + 1);
    memset(in, '<', n);
    in[n] = '\0';
    rp_buf_t b;
    rp_buf_init(&b, pool, 64);
    rp_buf_puts(&b, "[");
    rp_buf_html(&b, in);
    rp_buf_puts(&b, "]");
    ck_assert_uint_eq(b.len, 1 + 4 * n + 1);
    const char *s = rp_buf_str(&b);
    ck_assert_int_eq(s[0], '[');
    for (apr_size_t i = 0; i < n; i++) {
        ck_assert_int_eq(memcmp(s + 1 + 4 * i, "&lt;", 4), 0);
    }
    ck_assert_str_eq(s + 1 + 4 * n, "]");
}
END_TEST

/* What rp_buf_decimal always wrote: printf's fixed notation, trailing
 * zeros trimmed, "-0" as "0". */
static const char *decimal_by_printf(double v, int decimals, char *out,
                                     size_t size)
{
    int n = snprintf(out, size, "%.*f", decimals, v);
    if (strchr(out, '.') != NULL) {
        while (n > 0 && out[n - 1] == '0') {
            n--;
        }
        if (n > 0 && out[n - 1] == '.') {
            n--;
        }
    }
    out[n] = '\0';
    return strcmp(out, "-0") == 0 ? "0" : out;
}

static void check_decimal(double v, int decimals)
{
    char want[64];
    rp_buf_t b;
    rp_buf_init(&b, pool, 0);
    rp_buf_decimal(&b, v, decimals);
    ck_assert_msg(strcmp(rp_buf_str(&b), decimal_by_printf(v, decimals, want,
                                                           sizeof(want))) == 0,
                  "%.17g with %d decimals: %s, printf says %s", v, decimals,
                  rp_buf_str(&b), want);
}

START_TEST(decimal_writes_what_printf_writes)
{
    /* Ties, near-ties, integers, tiny, large, negative; then random values
     * of every magnitude the reports use. */
    static const double fixed[] = {
        0,       0.0005, 0.0015, 0.0025,      2.675,   1.005,     0.125,
        0.375,   1e-9,   0.9995, 9.9995,      99.9999, 2147483.6, 1e12,
        -0.0001, -1.5,   -2.675, 123456.7891, 0.1,     1.0};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        for (int d = 0; d <= 9; d++) {
            check_decimal(fixed[i], d);
        }
    }
    srand(7);
    for (int i = 0; i < 200000; i++) {
        double magnitude = pow(10.0, rand() % 12 - 4);
        double v = magnitude * ((double)rand() / RAND_MAX);
        if (i % 3 == 0) {
            v = (double)(rand() % 100000) / 1000.0; /* microseconds as ms */
        }
        check_decimal(v, i % 8);
    }
}
END_TEST

START_TEST(int_writes_what_printf_writes)
{
    static const apr_int64_t values[] = {
        0, 1, -1, 9, 10, -10, 1234567890, APR_INT64_MAX, APR_INT64_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        rp_buf_t b;
        rp_buf_init(&b, pool, 0);
        rp_buf_int(&b, values[i]);
        ck_assert_str_eq(rp_buf_str(&b),
                         apr_psprintf(pool, "%" APR_INT64_T_FMT, values[i]));
    }
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("rp_buf");
    TCase *tc = tcase_create("buf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, init_is_empty_string);
    tcase_add_test(tc, append_grows_past_initial_capacity);
    tcase_add_test(tc, append_exactly_to_capacity);
    tcase_add_test(tc, printf_small_and_large);
    tcase_add_test(tc, html_escapes_markup);
    tcase_add_test(tc, html_control_characters);
    tcase_add_test(tc, html_keeps_valid_utf8);
    tcase_add_test(tc, html_replaces_invalid_utf8);
    tcase_add_test(tc, html_truncated_sequence_at_end);
    tcase_add_test(tc, html_output_is_valid_utf8);
    tcase_add_test(tc, html_null_is_ignored);
    tcase_add_test(tc, html_large_input_grows);
    tcase_add_test(tc, decimal_writes_what_printf_writes);
    tcase_add_test(tc, int_writes_what_printf_writes);
    suite_add_tcase(s, tc);
    return s;
}
