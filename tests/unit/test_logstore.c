/* Log mode's core: the logfmt writer and reader (rp_logfmt), the record and
 * sidecar of a profile (rp_record), the saved-profile store and its
 * retention (rp_store), and the index pages (rp_index). */
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_index.h"
#include "rp_logfmt.h"
#include "rp_record.h"
#include "rp_store.h"
#include "unit_suites.h"

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

/* ---- logfmt ------------------------------------------------------------- */

static const char *one(const char *key, const char *value, apr_size_t max)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 16);
    rp_logfmt_str(&b, key, value, max);
    return rp_buf_str(&b);
}

static void expect_no_raw_controls(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        ck_assert_msg(*p >= 0x20 && *p != 0x7f, "raw control 0x%02x in %s", *p,
                      s);
    }
}

START_TEST(logfmt_bare_and_quoted)
{
    ck_assert_str_eq(one("k", "plain/value-1.2", 0), "k=plain/value-1.2");
    ck_assert_str_eq(one("k", "", 0), "k=\"\"");
    ck_assert_str_eq(one("k", "a b", 0), "k=\"a b\"");
    ck_assert_str_eq(one("k", "a=b", 0), "k=\"a=b\"");
    ck_assert_str_eq(one("k", "say \"hi\"", 0), "k=\"say \\\"hi\\\"\"");
    ck_assert_str_eq(one("k", "back\\slash", 0), "k=\"back\\\\slash\"");
    ck_assert_str_eq(one("k", "l1\nl2\r\t", 0), "k=\"l1\\nl2\\r\\t\"");
    ck_assert_str_eq(one("k", "\x01\x1b[31m\x7f", 0),
                     "k=\"\\u0001\\u001b[31m\\u007f\"");
    /* Valid UTF-8 passes, C1 controls and invalid bytes do not. */
    ck_assert_str_eq(one("k", "caf\xc3\xa9", 0), "k=\"caf\xc3\xa9\"");
    ck_assert_str_eq(one("k",
                         "\xc2\x9b"
                         "x",
                         0),
                     "k=\"\\u009bx\"");
    ck_assert_str_eq(one("k", "\xff\xc3(", 0), "k=\"\\ufffd\\ufffd(\"");
    ck_assert_str_eq(one("k", "\xed\xa0\x80", 0),
                     "k=\"\\ufffd\\ufffd\\ufffd\"");
    rp_buf_t b;
    rp_buf_init(&b, pool, 16);
    rp_logfmt_str(&b, "a", "1", 0);
    rp_logfmt_str(&b, "skipped", NULL, 0);
    rp_logfmt_int(&b, "n", -42);
    rp_logfmt_num(&b, "ms", 12.5004, 3);
    rp_logfmt_num(&b, "z", 3.0, 3);
    ck_assert_str_eq(rp_buf_str(&b), "a=1 n=-42 ms=12.5 z=3");
}
END_TEST

START_TEST(logfmt_cuts_at_a_boundary)
{
    ck_assert_str_eq(one("k", "abcdef", 4), "k=abcd...");
    ck_assert_str_eq(one("k", "abcd", 4), "k=abcd");
    /* "\n" takes two bytes: never cut in half. */
    ck_assert_str_eq(one("k", "ab\ncd", 3), "k=\"ab...\"");
    ck_assert_str_eq(one("k", "ab\ncd", 4), "k=\"ab\\n...\"");
    /* A two-byte character is kept whole or left out. */
    ck_assert_str_eq(one("k", "a \xc3\xa9", 3), "k=\"a ...\"");
    ck_assert_str_eq(one("k", "a\x01", 4), "k=\"a...\"");
}
END_TEST

START_TEST(logfmt_url_is_percent_encoded)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 16);
    rp_logfmt_url(&b, "path", "/a b/\"q\"\\\xc3\xa9\n%41", 0);
    rp_logfmt_url(&b, "query", "x=1&y=2", 0);
    ck_assert_str_eq(rp_buf_str(&b), "path=/a%20b/%22q%22%5C%C3%A9%0A%41 "
                                     "query=\"x=1&y=2\"");
    /* Never a backslash, so httpd's own error-log escaping leaves it. */
    ck_assert_ptr_null(strchr(rp_buf_str(&b), '\\'));
    b.len = 0;
    rp_logfmt_url(&b, "p", "/\xff\xff\xff", 5);
    ck_assert_str_eq(rp_buf_str(&b), "p=/%FF...");
}
END_TEST

START_TEST(logfmt_parse_reads_what_was_written)
{
    static const char *const values[] = {
        "plain",
        "",
        "a b",
        "a=b",
        "q\"uo\"te",
        "back\\slash",
        "nl\nx\r\t",
        "\x01\x02\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "\xc2\x85",
        "=",
        "\"",
        "\\\"\\"};
    rp_buf_t b;
    rp_buf_init(&b, pool, 64);
    char key[16];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        rp_logfmt_str(&b, key, values[i], 0);
    }
    expect_no_raw_controls(rp_buf_str(&b));
    apr_array_header_t *pairs;
    const char *err = rp_logfmt_parse(b.data, b.len, pool, &pairs);
    ck_assert_msg(err == NULL, "%s", err ? err : "");
    ck_assert_int_eq(pairs->nelts, (int)(sizeof(values) / sizeof(values[0])));
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        const char *got = rp_logfmt_get(pairs, key);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(strcmp(got, values[i]) == 0, "%s: '%s' != '%s'", key, got,
                      values[i]);
    }
    /* Invalid UTF-8 comes back as U+FFFD. */
    b.len = 0;
    rp_logfmt_str(&b, "k", "a\xffz", 0);
    ck_assert_ptr_null(rp_logfmt_parse(b.data, b.len, pool, &pairs));
    ck_assert_str_eq(rp_logfmt_get(pairs, "k"), "a\xef\xbf\xbdz");
}
END_TEST

START_TEST(logfmt_parse_random_bytes_round_trip)
{
    /* Random bytes, written and read back: the line never holds a raw
     * control character and every value parses back to itself wherever it
     * was valid UTF-8 without C1 controls. */
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        char value[40];
        int n = (int)(rand_r(&seed) % 39);
        for (int i = 0; i < n; i++) {
            int r = rand_r(&seed) % 4;
            value[i] = r == 0   ? (char)(1 + rand_r(&seed) % 31)
                       : r == 1 ? (char)(32 + rand_r(&seed) % 95)
                       : r == 2 ? "\"\\= "[rand_r(&seed) % 4]
                                : (char)(0x80 + rand_r(&seed) % 128);
        }
        value[n] = '\0';
        rp_buf_t b;
        rp_buf_init(&b, pool, 64);
        rp_logfmt_str(&b, "v", value, 0);
        rp_logfmt_int(&b, "after", round);
        expect_no_raw_controls(rp_buf_str(&b));
        apr_array_header_t *pairs;
        const char *err = rp_logfmt_parse(b.data, b.len, pool, &pairs);
        ck_assert_msg(err == NULL, "%s in %s", err ? err : "", b.data);
        ck_assert_int_eq(pairs->nelts, 2);
        ck_assert_int_eq(atoi(rp_logfmt_get(pairs, "after")), round);
        int plain = 1;
        for (int i = 0; i < n; i++) {
            plain &= (unsigned char)value[i] < 0x80;
        }
        if (plain) {
            ck_assert_str_eq(rp_logfmt_get(pairs, "v"), value);
        }
    }
}
END_TEST

START_TEST(logfmt_parse_refuses_malformed_lines)
{
    apr_array_header_t *pairs;
    const char *bad[] = {"a=\"open", "a=\"bad\\q\"", "a=\"x\\u12\"", "=1",
                         "a=b\"c",   "a=\"x\"y",     "a=\"x\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(rp_logfmt_parse(bad[i], strlen(bad[i]), pool, &pairs) !=
                          NULL,
                      "accepted: %s", bad[i]);
    }
    const char *ok = "flag a=1  b=\"\\u00e9\\ud83d\\ude00\\ud800\" c=";
    ck_assert_ptr_null(rp_logfmt_parse(ok, strlen(ok), pool, &pairs));
    ck_assert_str_eq(rp_logfmt_get(pairs, "flag"), "");
    ck_assert_str_eq(rp_logfmt_get(pairs, "a"), "1");
    ck_assert_str_eq(rp_logfmt_get(pairs, "b"),
                     "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
    ck_assert_str_eq(rp_logfmt_get(pairs, "c"), "");
    ck_assert_ptr_null(rp_logfmt_get(pairs, "missing"));
}
END_TEST

/* ---- records ------------------------------------------------------------ */

static const rp_func_t f_start = {.name = "start_thread",
                                  .object = "libc.so.6"};
static const rp_func_t f_main = {.name = "ap_run_handler", .object = "apache2"};
static const rp_func_t f_handler = {.name = "my_handler",
                                    .object = "mod_my.so"};
static const rp_func_t f_alpha = {.name = "work \"alpha\"",
                                  .object = "mod_my.so"};
static const rp_func_t f_beta = {.name = "work_beta", .object = "mod_my.so"};
static const rp_func_t f_memcpy = {.name = "memcpy", .object = "libc.so.6"};
static const rp_func_t f_rec = {.name = "recurse", .object = "mod_my.so"};

static const char *const collapse[] = {"libc.so*", "apache2", "[vdso]"};

/* start_thread -> ap_run_handler -> my_handler -> work "alpha" (6)
 *                                               -> memcpy (2)
 *                                  my_handler -> work_beta (1)
 *                                  my_handler -> recurse -> recurse (1) */
static rp_profile_t *sample_profile(void)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    p->method = "GET";
    p->uri = "/app/page\n\"x\"?a=1&b=<i>";
    p->host = "example.test";
    p->status = 503;
    p->pid = 77;
    p->tid = 78;
    p->request_started = apr_time_from_sec(1700000000) + 123456;
    p->stats.cpu_ns = 7500000;
    p->stats.interval_us = 1000;
    p->stats.clock = RP_CLOCK_WALL;
    p->collapse = collapse;
    p->collapse_count = 3;
    p->tree = rp_tree_create(pool);
    const rp_func_t *a[] = {&f_start, &f_main, &f_handler, &f_alpha};
    const rp_func_t *m[] = {&f_start, &f_main, &f_handler, &f_alpha, &f_memcpy};
    const rp_func_t *b[] = {&f_start, &f_main, &f_handler, &f_beta};
    const rp_func_t *r[] = {&f_start, &f_main, &f_handler, &f_rec, &f_rec};
    /* Ten samples of one interval, two of them waiting, through the
     * profile builder. */
    struct {
        const rp_func_t *const *frames;
        unsigned depth, count;
        int waiting;
    } stacks[] = {{a, 4, 6, 0}, {m, 5, 2, 1}, {b, 4, 1, 0}, {r, 5, 1, 0}};
    for (unsigned i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) {
        for (unsigned k = 0; k < stacks[i].count; k++) {
            rp_stack_t s = {.frames = stacks[i].frames,
                            .depth = stacks[i].depth,
                            .t_ns = p->stats.weight * 1000000u,
                            .weight = 1,
                            .waiting = stacks[i].waiting,
                            .phase = RP_PHASE_HANDLER,
                            .syscall = stacks[i].waiting ? 7 : -1};
            rp_profile_add_stack(p, &s);
        }
    }
    rp_profile_end(p); /* 10 samples, 10 intervals, 2 waiting */
    return p;
}

static const rp_func_stat_t *stat_named(const rp_func_stat_t *s, unsigned n,
                                        const char *name)
{
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(s[i].name, name) == 0) {
            return &s[i];
        }
    }
    return NULL;
}

START_TEST(glob_matches_whole_names)
{
    ck_assert(rp_glob_match("libc.so*", "libc.so.6"));
    ck_assert(!rp_glob_match("libc.so*", "xlibc.so.6"));
    ck_assert(rp_glob_match("mod_mpm_*.so", "mod_mpm_event.so"));
    ck_assert(rp_glob_match("[vdso]", "[vdso]"));
    ck_assert(!rp_glob_match("[vdso]", "v"));
    ck_assert(rp_glob_match("a?c", "abc"));
    ck_assert(rp_glob_match("*", ""));
    ck_assert(!rp_glob_match("apache2", "apache22"));
    ck_assert(rp_glob_match("*a*b*", "xxaxxbxx"));
}
END_TEST

START_TEST(funcs_fold_and_count_recursion_once)
{
    rp_func_stat_t *s;
    unsigned n = rp_fold_funcs(sample_profile(), pool, &s);
    /* start_thread stays (no caller to fold into); ap_run_handler and
     * memcpy fold into their callers. */
    ck_assert_int_eq(n, 5);
    const rp_func_stat_t *st = stat_named(s, n, "start_thread");
    ck_assert_int_eq(st->total, 10);
    ck_assert_int_eq(st->self, 0);
    ck_assert_int_eq(s[0].total, 10); /* heaviest first */
    ck_assert_int_eq(s[4].total, 1);
    ck_assert_ptr_null(stat_named(s, n, "ap_run_handler"));
    ck_assert_ptr_null(stat_named(s, n, "memcpy"));
    const rp_func_stat_t *h = stat_named(s, n, "my_handler");
    ck_assert_int_eq(h->total, 10);
    ck_assert_int_eq(h->self, 0);
    const rp_func_stat_t *a = stat_named(s, n, "work \"alpha\"");
    ck_assert_int_eq(a->self, 8); /* its own 6 and memcpy's 2 */
    ck_assert_int_eq(a->total, 8);
    const rp_func_stat_t *r = stat_named(s, n, "recurse");
    ck_assert_int_eq(r->total, 1); /* once, not twice */
    ck_assert_int_eq(r->self, 1);
    /* Without patterns nothing folds. */
    rp_profile_t *p = sample_profile();
    p->collapse_count = 0;
    n = rp_fold_funcs(p, pool, &s);
    ck_assert_int_eq(n, 7);
    ck_assert_int_eq(stat_named(s, n, "memcpy")->self, 2);
    ck_assert_int_eq(stat_named(s, n, "work \"alpha\"")->self, 6);
}
END_TEST

START_TEST(hot_path_leaves_out_folded_frames)
{
    rp_profile_t *p = sample_profile();
    ck_assert_str_eq(rp_record_hot_path(p, 12, pool),
                     "my_handler;work \"alpha\"");
    ck_assert_str_eq(rp_record_hot_path(p, 1, pool), "...;work \"alpha\"");
    p->collapse_count = 0;
    ck_assert_str_eq(rp_record_hot_path(p, 12, pool),
                     "start_thread;ap_run_handler;my_handler;work \"alpha\"");
    /* Everything collapsed: the raw path rather than nothing. */
    static const char *const all[] = {"*"};
    p->collapse = all;
    p->collapse_count = 1;
    ck_assert_str_eq(rp_record_hot_path(p, 12, pool),
                     "start_thread;ap_run_handler;my_handler;work \"alpha\"");
    p->tree = rp_tree_create(pool);
    ck_assert_str_eq(rp_record_hot_path(p, 12, pool), "");
}
END_TEST

START_TEST(record_line_is_one_parseable_line)
{
    rp_profile_t *p = sample_profile();
    rp_record_info_t info = {.id = "20231114T221320.123456Z-77-1",
                             .mode = "log",
                             .ended = p->request_started + 12345};
    rp_buf_t b;
    rp_buf_init(&b, pool, 64);
    rp_record_line(&b, p, &info);
    const char *line = rp_buf_str(&b);
    ck_assert_ptr_null(strchr(line, '\n'));
    expect_no_raw_controls(line);
    ck_assert(strncmp(line, "type=reqprof v=1 ts=2023-11-14T22:13:20.123456Z ",
                      47) == 0);
    apr_array_header_t *kv;
    ck_assert_ptr_null(rp_logfmt_parse(b.data, b.len, pool, &kv));
    ck_assert_str_eq(rp_logfmt_get(kv, "id"), info.id);
    ck_assert_str_eq(rp_logfmt_get(kv, "mode"), "log");
    ck_assert_str_eq(rp_logfmt_get(kv, "method"), "GET");
    ck_assert_str_eq(rp_logfmt_get(kv, "path"), "/app/page%0A%22x%22");
    ck_assert_str_eq(rp_logfmt_get(kv, "query"), "a=1&b=<i>");
    ck_assert_str_eq(rp_logfmt_get(kv, "status"), "503");
    ck_assert_str_eq(rp_logfmt_get(kv, "dur_ms"), "12.345");
    ck_assert_str_eq(rp_logfmt_get(kv, "cpu_ms"), "7.5");
    ck_assert_str_eq(rp_logfmt_get(kv, "wait_ms"), "2");
    ck_assert_str_eq(rp_logfmt_get(kv, "samples"), "10");
    ck_assert_str_eq(rp_logfmt_get(kv, "clock"), "wall");
    ck_assert_str_eq(rp_logfmt_get(kv, "top1"), "work \"alpha\"");
    ck_assert_str_eq(rp_logfmt_get(kv, "top1_ms"), "8");
    ck_assert_str_eq(rp_logfmt_get(kv, "top1_pct"), "80");
    ck_assert_str_eq(rp_logfmt_get(kv, "top2"), "recurse");
    ck_assert_str_eq(rp_logfmt_get(kv, "top3"), "work_beta");
    ck_assert_ptr_null(rp_logfmt_get(kv, "top4")); /* no self time */
    ck_assert_str_eq(rp_logfmt_get(kv, "hot"), "my_handler;work \"alpha\"");
    ck_assert_ptr_null(rp_logfmt_get(kv, "capped"));
    ck_assert_ptr_null(rp_logfmt_get(kv, "aborted"));
    /* The client left before the whole response was sent. */
    p->aborted = 1;
    b.len = 0;
    rp_record_line(&b, p, &info);
    ck_assert_ptr_null(rp_logfmt_parse(b.data, b.len, pool, &kv));
    ck_assert_str_eq(rp_logfmt_get(kv, "aborted"), "1");
    ck_assert_str_eq(rp_logfmt_get(kv, "status"), "503");
    ck_assert(strstr(rp_buf_str(&b), " status=503 aborted=1 dur_ms=") != NULL);
}
END_TEST

START_TEST(sidecar_reads_back)
{
    rp_profile_t *p = sample_profile();
    rp_record_info_t info = {.id = "20231114T221320.123456Z-77-1",
                             .mode = "slow",
                             .ended = p->request_started + 2000};
    apr_size_t len;
    const char *text = rp_record_sidecar(p, &info, pool, &len);
    ck_assert_int_eq(strlen(text), len);
    ck_assert_int_eq(text[len - 1], '\n');
    rp_saved_t s;
    const char *err = rp_saved_parse(text, len, 1, pool, &s);
    ck_assert_msg(err == NULL, "%s", err ? err : "");
    ck_assert_str_eq(s.id, info.id);
    ck_assert_str_eq(s.mode, "slow");
    ck_assert_str_eq(s.path, "/app/page%0A%22x%22");
    ck_assert_str_eq(s.query, "a=1&b=<i>");
    ck_assert_int_eq(s.status, 503);
    ck_assert(s.dur_ms > 1.99 && s.dur_ms < 2.01);
    ck_assert_int_eq(s.samples, 10);
    ck_assert_str_eq(s.top1, "work \"alpha\"");
    ck_assert_int_eq(s.func_count, 5);
    ck_assert(s.funcs[0].total_ms > 9.99 && s.funcs[0].total_ms < 10.01);
    ck_assert_str_eq(s.funcs[2].name, "work \"alpha\"");
    ck_assert(s.funcs[2].self_ms > 7.99 && s.funcs[2].self_ms < 8.01);
    /* The first line alone is enough for the list. */
    const char *nl = strchr(text, '\n');
    ck_assert_ptr_null(
        rp_saved_parse(text, (apr_size_t)(nl - text), 0, pool, &s));
    ck_assert_int_eq(s.func_count, 0);
    ck_assert_ptr_nonnull(rp_saved_parse("type=func a=1", 13, 1, pool, &s));
}
END_TEST

/* ---- store -------------------------------------------------------------- */

static char *temp_dir(void)
{
    const char *tmp = NULL;
    ck_assert_int_eq(apr_temp_dir_get(&tmp, pool), APR_SUCCESS);
    char *dir = apr_pstrcat(pool, tmp, "/rp-unit-store-XXXXXX", NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, dir, pool) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") != 0 && strcmp(fi.name, "..") != 0) {
            apr_file_remove(apr_pstrcat(pool, dir, "/", fi.name, NULL), pool);
        }
    }
    apr_dir_close(d);
    apr_dir_remove(dir, pool);
}

static int file_exists(const char *dir, const char *name)
{
    apr_finfo_t fi;
    return apr_stat(&fi, apr_pstrcat(pool, dir, "/", name, NULL),
                    APR_FINFO_TYPE, pool) == APR_SUCCESS;
}

static int count_files(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;
    ck_assert_int_eq(apr_dir_open(&d, dir, pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) ==
           APR_SUCCESS) {
        n += fi.filetype == APR_REG;
    }
    apr_dir_close(d);
    return n;
}

/* Saves a profile of `bytes` bytes of HTML, started at second t. */
static const char *save_one(const char *dir, long t, unsigned seq,
                            apr_size_t bytes)
{
    char id[RP_STORE_ID_MAX];
    rp_store_make_id(id, sizeof(id), apr_time_from_sec(1700000000 + t), 99,
                     seq);
    char *html = apr_palloc(pool, bytes + 1);
    memset(html, 'h', bytes);
    rp_store_file_t files[] = {
        {RP_STORE_HTML, html, bytes},
        {RP_STORE_SPEEDSCOPE, "{}", 2},
        {RP_STORE_META, "type=reqprof v=1\n", 17},
    };
    const char *failed = NULL;
    ck_assert_int_eq(rp_store_save(dir, id, files, 3, pool, &failed),
                     APR_SUCCESS);
    ck_assert_ptr_null(failed);
    return apr_pstrdup(pool, id);
}

START_TEST(store_ids)
{
    char id[RP_STORE_ID_MAX];
    rp_store_make_id(id, sizeof(id), apr_time_from_sec(1700000000) + 7, 4242,
                     17);
    ck_assert_str_eq(id, "20231114T221320.000007Z-4242-17");
    ck_assert(rp_store_id_valid(id));
    const char *bad[] = {"",
                         "../etc/passwd",
                         "20231114T221320.000007Z-4242",
                         "20231114T221320.000007Z-4242-17/..",
                         "20231114T221320.000007Z-4242-17.html",
                         "2023111xT221320.000007Z-4242-17",
                         "20231114T221320.000007Z--17",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        ck_assert_msg(!rp_store_id_valid(bad[i]), "accepted %s", bad[i]);
    }
    ck_assert(!rp_store_id_valid(NULL));
    ck_assert_ptr_null(rp_store_path(pool, "/d", "../x", RP_STORE_HTML));
    ck_assert_str_eq(rp_store_path(pool, "/d", id, RP_STORE_META),
                     "/d/20231114T221320.000007Z-4242-17.meta");
}
END_TEST

START_TEST(store_saves_lists_and_reads)
{
    const char *dir = temp_dir();
    const char *old = save_one(dir, 1, 1, 100);
    const char *mid = save_one(dir, 2, 2, 100);
    const char *young = save_one(dir, 3, 3, 100);
    ck_assert_int_eq(count_files(dir), 9);
    ck_assert(file_exists(dir, apr_pstrcat(pool, young, ".html", NULL)));
    ck_assert(
        file_exists(dir, apr_pstrcat(pool, young, ".speedscope.json", NULL)));
    /* Someone else's file is listed as nothing and never removed. */
    apr_file_t *f;
    ck_assert_int_eq(apr_file_open(&f,
                                   apr_pstrcat(pool, dir, "/notes.txt", NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                                   APR_FPROT_OS_DEFAULT, pool),
                     APR_SUCCESS);
    apr_file_close(f);
    apr_array_header_t *entries;
    ck_assert_int_eq(rp_store_scan(dir, apr_time_now(), pool, &entries, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(entries->nelts, 3);
    const rp_store_entry_t *e = (const rp_store_entry_t *)entries->elts;
    ck_assert_str_eq(e[0].id, young);
    ck_assert_str_eq(e[1].id, mid);
    ck_assert_str_eq(e[2].id, old);
    ck_assert_int_eq(e[0].bytes, 100 + 2 + 17);
    ck_assert(e[0].complete);
    char *data;
    apr_size_t len;
    ck_assert_int_eq(
        rp_store_read(dir, mid, RP_STORE_SPEEDSCOPE, 1000, pool, &data, &len),
        APR_SUCCESS);
    ck_assert_int_eq(len, 2);
    ck_assert_str_eq(data, "{}");
    ck_assert_int_eq(
        rp_store_read(dir, mid, RP_STORE_HTML, 50, pool, &data, &len),
        APR_ENOMEM);
    ck_assert_int_eq(
        rp_store_read(dir, "../x", RP_STORE_HTML, 50, pool, &data, &len),
        APR_EINVAL);
    char *line;
    ck_assert_int_eq(
        rp_store_read_line(dir, mid, RP_STORE_META, 100, pool, &line),
        APR_SUCCESS);
    ck_assert_str_eq(line, "type=reqprof v=1");
    ck_assert_int_eq(
        rp_store_read_line(dir, mid, RP_STORE_META, 4, pool, &line),
        APR_SUCCESS);
    ck_assert_str_eq(line, "type");
    remove_tree(dir);
}
END_TEST

START_TEST(store_keep_policy)
{
    rp_store_entry_t e[] = {{.id = "a", .bytes = 10},
                            {.id = "b", .bytes = 20},
                            {.id = "c", .bytes = 30},
                            {.id = "d", .bytes = 5}};
    ck_assert_int_eq(rp_store_keep(e, 4, 0, 0), 4);
    ck_assert_int_eq(rp_store_keep(e, 4, 2, 0), 2);
    ck_assert_int_eq(rp_store_keep(e, 4, 10, 30), 2);
    ck_assert_int_eq(rp_store_keep(e, 4, 10, 59), 2);
    ck_assert_int_eq(rp_store_keep(e, 4, 10, 60), 3);
    /* The kept run is contiguous: d would fit but is older than c. */
    ck_assert_int_eq(rp_store_keep(e, 4, 10, 35), 2);
    ck_assert_int_eq(rp_store_keep(e, 4, 10, 9), 0);
    ck_assert_int_eq(rp_store_keep(e, 0, 10, 9), 0);
}
END_TEST

START_TEST(store_prune_by_count_and_size)
{
    const char *dir = temp_dir();
    const char *ids[6];
    for (int i = 0; i < 6; i++) {
        ids[i] = save_one(dir, i, (unsigned)i, 1000);
    }
    int removed = -1;
    ck_assert_int_eq(rp_store_prune(dir, 4, 0, apr_time_now(), pool, &removed),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(count_files(dir), 12);
    ck_assert(!file_exists(dir, apr_pstrcat(pool, ids[0], ".meta", NULL)));
    ck_assert(!file_exists(dir, apr_pstrcat(pool, ids[1], ".html", NULL)));
    ck_assert(file_exists(dir, apr_pstrcat(pool, ids[2], ".html", NULL)));
    /* Each profile is 1019 bytes: 2500 bytes hold the two newest. */
    ck_assert_int_eq(
        rp_store_prune(dir, 100, 2500, apr_time_now(), pool, &removed),
        APR_SUCCESS);
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(count_files(dir), 6);
    ck_assert(file_exists(dir, apr_pstrcat(pool, ids[5], ".meta", NULL)));
    ck_assert(file_exists(dir, apr_pstrcat(pool, ids[4], ".meta", NULL)));
    ck_assert(!file_exists(dir, apr_pstrcat(pool, ids[3], ".meta", NULL)));
    remove_tree(dir);
}
END_TEST

START_TEST(store_prune_removes_debris_only_when_stale)
{
    const char *dir = temp_dir();
    const char *id = save_one(dir, 1, 1, 10);
    /* A temporary file and a profile without its sidecar: a save under way,
     * or the debris of a crash. */
    const char *names[] = {".tmp-20231114T221320.000000Z-5-5.html",
                           "20231114T221320.000000Z-6-6.html"};
    for (int i = 0; i < 2; i++) {
        apr_file_t *f;
        ck_assert_int_eq(
            apr_file_open(&f, apr_pstrcat(pool, dir, "/", names[i], NULL),
                          APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                          APR_FPROT_OS_DEFAULT, pool),
            APR_SUCCESS);
        apr_file_close(f);
    }
    int removed;
    apr_time_t now = apr_time_now();
    ck_assert_int_eq(rp_store_prune(dir, 10, 0, now, pool, &removed),
                     APR_SUCCESS);
    ck_assert_int_eq(count_files(dir), 5);
    apr_array_header_t *entries;
    ck_assert_int_eq(rp_store_scan(dir, now, pool, &entries, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(entries->nelts, 2);
    /* Two minutes later they are debris. */
    apr_time_t later = now + apr_time_from_sec(RP_STORE_STALE_SECONDS + 5);
    ck_assert_int_eq(rp_store_prune(dir, 10, 0, later, pool, &removed),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(count_files(dir), 3);
    ck_assert(file_exists(dir, apr_pstrcat(pool, id, ".meta", NULL)));
    remove_tree(dir);
}
END_TEST

START_TEST(store_save_failure_leaves_nothing)
{
    const char *dir = temp_dir();
    rp_store_file_t files[] = {{RP_STORE_HTML, "x", 1},
                               {RP_STORE_META, "y", 1}};
    const char *failed = NULL;
    /* A directory that is a file. */
    const char *file_dir = apr_pstrcat(pool, dir, "/plain", NULL);
    apr_file_t *f;
    ck_assert_int_eq(apr_file_open(&f, file_dir,
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                                   APR_FPROT_OS_DEFAULT, pool),
                     APR_SUCCESS);
    apr_file_close(f);
    apr_status_t rv = rp_store_save(file_dir, "20231114T221320.000000Z-1-1",
                                    files, 2, pool, &failed);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(failed);
    ck_assert_ptr_nonnull(strstr(failed, "/plain/"));
    /* A directory that does not exist. */
    rv = rp_store_save(apr_pstrcat(pool, dir, "/missing", NULL),
                       "20231114T221320.000000Z-1-1", files, 2, pool, &failed);
    ck_assert(APR_STATUS_IS_ENOENT(rv));
    apr_array_header_t *entries;
    ck_assert_int_ne(rp_store_scan(apr_pstrcat(pool, dir, "/missing", NULL),
                                   apr_time_now(), pool, &entries, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(count_files(dir), 1);
    remove_tree(dir);
}
END_TEST

/* ---- index pages -------------------------------------------------------- */

static rp_saved_t saved(const char *id, const char *path, double dur)
{
    rp_saved_t s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.ts = "2023-11-14T22:13:20.000000Z";
    s.mode = "log";
    s.host = "h<b>";
    s.method = "GET";
    s.path = path;
    s.query = "a=<script>";
    s.status = 200;
    s.dur_ms = dur;
    return s;
}

START_TEST(index_list_escapes_and_links_previous)
{
    rp_saved_t items[] = {saved("20231114T221320.000003Z-1-3", "/a", 3),
                          saved("20231114T221320.000002Z-1-2", "/b\"<x>", 2),
                          saved("20231114T221320.000001Z-1-1", "/a", 1)};
    items[0].top1 = "f<oo>";
    items[0].top1_pct = 50;
    rp_saved_link_previous(items, 3);
    ck_assert_str_eq(items[0].previous, "20231114T221320.000001Z-1-1");
    ck_assert_ptr_null(items[1].previous);
    ck_assert_ptr_null(items[2].previous);
    apr_size_t len;
    const char *page = rp_index_render_list(items, 3, "note <n>", pool, &len);
    ck_assert_int_eq(strlen(page), len);
    ck_assert_ptr_null(strstr(page, "<script>"));
    ck_assert_ptr_null(strstr(page, "<x>"));
    ck_assert_ptr_null(strstr(page, "<oo>"));
    ck_assert_ptr_null(strstr(page, "<b>"));
    ck_assert_ptr_null(strstr(page, "<n>"));
    ck_assert_ptr_nonnull(strstr(page, "/b&quot;&lt;x&gt;"));
    ck_assert_ptr_nonnull(strstr(page, "?view=20231114T221320.000003Z-1-3"));
    ck_assert_ptr_nonnull(
        strstr(page, "?compare=20231114T221320.000001Z-1-1&amp;with="
                     "20231114T221320.000003Z-1-3"));
    /* Newest first, as given. */
    ck_assert(strstr(page, "000003Z") < strstr(page, "000001Z"));
}
END_TEST

START_TEST(index_compare_rows)
{
    rp_saved_func_t fa[] = {{"main", "x", 0, 10},
                            {"slow<er>", "m.so", 2, 4},
                            {"gone", "m.so", 3, 3}};
    rp_saved_func_t fb[] = {{"main", "x", 0, 20},
                            {"slow<er>", "m.so", 9, 12},
                            {"new", "m.so", 1, 1}};
    rp_saved_t a = saved("20231114T221320.000001Z-1-1", "/a", 10);
    rp_saved_t b = saved("20231114T221320.000002Z-1-2", "/a", 20);
    a.funcs = fa;
    a.func_count = 3;
    b.funcs = fb;
    b.func_count = 3;
    rp_compare_row_t *rows;
    int n = rp_compare_rows(&a, &b, pool, &rows);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(rows[0].name, "slow<er>");
    ck_assert(rows[0].self_a == 2 && rows[0].self_b == 9);
    ck_assert_str_eq(rows[1].name, "new");
    ck_assert_str_eq(rows[2].name, "main");
    ck_assert_str_eq(rows[3].name, "gone");
    ck_assert(rows[3].self_b == 0 && rows[3].total_a == 3);
    apr_size_t len;
    const char *page = rp_index_render_compare(&a, &b, pool, &len);
    ck_assert_ptr_null(strstr(page, "<er>"));
    ck_assert_ptr_null(strstr(page, "<script>"));
    ck_assert_ptr_nonnull(strstr(page, "slow&lt;er&gt;"));
    ck_assert_ptr_nonnull(strstr(page, "data-self-delta=\"7.000\""));
    ck_assert_ptr_nonnull(strstr(page, "+7"));
}
END_TEST

Suite *logstore_suite(void)
{
    Suite *s = suite_create("logstore");
    TCase *tc = tcase_create("logstore");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, logfmt_bare_and_quoted);
    tcase_add_test(tc, logfmt_cuts_at_a_boundary);
    tcase_add_test(tc, logfmt_url_is_percent_encoded);
    tcase_add_test(tc, logfmt_parse_reads_what_was_written);
    tcase_add_test(tc, logfmt_parse_random_bytes_round_trip);
    tcase_add_test(tc, logfmt_parse_refuses_malformed_lines);
    tcase_add_test(tc, glob_matches_whole_names);
    tcase_add_test(tc, funcs_fold_and_count_recursion_once);
    tcase_add_test(tc, hot_path_leaves_out_folded_frames);
    tcase_add_test(tc, record_line_is_one_parseable_line);
    tcase_add_test(tc, sidecar_reads_back);
    tcase_add_test(tc, store_ids);
    tcase_add_test(tc, store_saves_lists_and_reads);
    tcase_add_test(tc, store_keep_policy);
    tcase_add_test(tc, store_prune_by_count_and_size);
    tcase_add_test(tc, store_prune_removes_debris_only_when_stale);
    tcase_add_test(tc, store_save_failure_leaves_nothing);
    tcase_add_test(tc, index_list_escapes_and_links_previous);
    tcase_add_test(tc, index_compare_rows);
    suite_add_tcase(s, tc);
    return s;
}
