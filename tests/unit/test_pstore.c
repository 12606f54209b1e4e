/* rp_pstore over a directory: saving (with the directory's limits),
 * listing newest first with each filter, fetching, and what a directory
 * says of the shared store's parts (no drops, no writer). The same
 * interface over Redis is tested in test_redis.c. */
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_logfmt.h"
#include "rp_pstore.h"
#include "unit_suites.h"

static apr_pool_t *pool;
static char *dir;

static char *temp_dir(void)
{
    const char *tmp = NULL;
    ck_assert_int_eq(apr_temp_dir_get(&tmp, pool), APR_SUCCESS);
    char *d = apr_pstrcat(pool, tmp, "/rp-unit-pstore-XXXXXX", NULL);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void remove_tree(const char *d)
{
    apr_dir_t *h;
    apr_finfo_t fi;
    if (apr_dir_open(&h, d, pool) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, h) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") != 0 && strcmp(fi.name, "..") != 0) {
            apr_file_remove(apr_pstrcat(pool, d, "/", fi.name, NULL), pool);
        }
    }
    apr_dir_close(h);
    apr_dir_remove(d, pool);
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    dir = temp_dir();
}

static void teardown(void)
{
    remove_tree(dir);
    apr_pool_destroy(pool);
    pool = NULL;
}

/* What a saved profile's record says, for the listing. */
typedef struct prof {
    long second; /* the request started this many seconds after a base */
    const char *server, *node, *trace, *path;
    int status;
    double dur_ms;
    const char *id; /* filled when saved */
} prof_t;

/* A sidecar: the record line, as rp_record writes its keys, and one
 * function line. */
static const char *sidecar_of(const prof_t *p)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 256);
    rp_logfmt_str(&b, "type", "reqprof", 0);
    rp_logfmt_int(&b, "v", 1);
    rp_logfmt_str(&b, "id", p->id, 0);
    rp_logfmt_str(&b, "mode", "store", 0);
    rp_logfmt_int(&b, "pid", 4242);
    rp_logfmt_str(&b, "host", "example.test", 0);
    rp_logfmt_str(&b, "server", p->server, 0);
    rp_logfmt_str(&b, "node", p->node, 0);
    rp_logfmt_str(&b, "trace", p->trace, 0);
    rp_logfmt_str(&b, "method", "GET", 0);
    rp_logfmt_url(&b, "path", p->path, 0);
    rp_logfmt_int(&b, "status", p->status);
    rp_logfmt_num(&b, "dur_ms", p->dur_ms, 3);
    rp_buf_puts(&b, "\ntype=func name=main object=app self_ms=1 total_ms=2\n");
    return rp_buf_str(&b);
}

static apr_time_t base_time(void)
{
    return apr_time_from_sec(1700000000);
}

/* Saves p (its id made from its second) with an HTML report and a
 * sidecar. */
static void save(rp_pstore_t *s, prof_t *p, unsigned seq)
{
    apr_time_t t = base_time() + apr_time_from_sec(p->second);
    char id[RP_STORE_ID_MAX];
    rp_store_make_id(id, sizeof(id), t, 4242, seq);
    p->id = apr_pstrdup(pool, id);
    const char *meta = sidecar_of(p);
    const char *html = apr_psprintf(pool, "<p>%s</p>", p->id);
    rp_store_file_t files[] = {
        {RP_STORE_HTML, html, strlen(html)},
        {RP_STORE_SPEEDSCOPE, "{}", 2},
        {RP_STORE_META, meta, strlen(meta)},
    };
    const char *err = NULL;
    apr_status_t rv = rp_pstore_save(s, p->id, t, files, 3, pool, &err);
    ck_assert_msg(rv == APR_SUCCESS, "saving %s: %s", p->id, err ? err : "");
}

#define T1 "4bf92f3577b34da6a3ce929d0e0e4736"
#define T3 "0af7651916cd43dd8448eb211c80319c"

/* Five profiles, oldest first. */
static prof_t five[] = {
    {1, "www.a.test", "n1", T1, "/api/users", 200, 5, NULL},
    {2, "www.b.test", "n2", NULL, "/api/orders", 500, 50, NULL},
    {3, "www.a.test", "n2", T3, "/static/x y", 200, 150, NULL},
    {4, "www.b.test", "n1", NULL, "/api/users/7", 404, 15, NULL},
    {5, "www.a.test", "n1", T1, "/api/users", 200, 250, NULL},
};
#define NFIVE ((int)(sizeof(five) / sizeof(five[0])))

static rp_pstore_t *store_with_five(void)
{
    rp_pstore_t *s = rp_pstore_dir(dir, 100, 0, pool);
    for (int i = 0; i < NFIVE; i++) {
        save(s, &five[i], (unsigned)i);
    }
    return s;
}

/* Lists with f and checks that exactly the profiles of five[] numbered in
 * want (1-based, newest first, 0-terminated) come back, and how many were
 * read. */
static void expect_list(rp_pstore_t *s, const rp_pstore_filter_t *f, int max,
                        const int *want, int want_scanned)
{
    rp_saved_t *items = NULL;
    int count = -1, scanned = -1;
    const char *err = NULL;
    ck_assert_int_eq(
        rp_pstore_list(s, f, max, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    int n = 0;
    while (want[n] != 0) {
        n++;
    }
    ck_assert_msg(count == n, "%d listed, not %d", count, n);
    for (int i = 0; i < n; i++) {
        const prof_t *p = &five[want[i] - 1];
        ck_assert_msg(strcmp(items[i].id, p->id) == 0,
                      "item %d is %s, not profile %d (%s)", i, items[i].id,
                      want[i], p->id);
        ck_assert_str_eq(items[i].server, p->server);
        ck_assert_str_eq(items[i].node, p->node);
        ck_assert_str_eq(items[i].trace, p->trace ? p->trace : "");
        ck_assert_int_eq(items[i].status, p->status);
        ck_assert(items[i].dur_ms > p->dur_ms - 0.001 &&
                  items[i].dur_ms < p->dur_ms + 0.001);
        ck_assert_str_eq(items[i].mode, "store");
        ck_assert_int_eq(items[i].pid, 4242);
    }
    if (want_scanned >= 0) {
        ck_assert_int_eq(scanned, want_scanned);
    }
}

START_TEST(pstore_dir_lists_newest_first)
{
    rp_pstore_t *s = store_with_five();
    expect_list(s, NULL, 100, (int[]){5, 4, 3, 2, 1, 0}, 5);
    rp_pstore_filter_t none;
    memset(&none, 0, sizeof(none));
    expect_list(s, &none, 100, (int[]){5, 4, 3, 2, 1, 0}, 5);
    /* Empty strings filter nothing either. */
    rp_pstore_filter_t empty = {.server = "", .path = "", .trace = ""};
    expect_list(s, &empty, 100, (int[]){5, 4, 3, 2, 1, 0}, 5);
    /* The newest max, read no further. */
    expect_list(s, NULL, 2, (int[]){5, 4, 0}, 2);
    expect_list(s, NULL, 0, (int[]){0}, 0);
    /* The path is read back as the record has it (percent-encoded). */
    rp_saved_t *items;
    int count, scanned;
    ck_assert_int_eq(
        rp_pstore_list(s, NULL, 5, pool, &items, &count, &scanned, NULL),
        APR_SUCCESS);
    ck_assert_str_eq(items[2].path, "/static/x%20y");
    ck_assert_str_eq(items[2].method, "GET");
}
END_TEST

START_TEST(pstore_dir_lists_with_each_filter)
{
    rp_pstore_t *s = store_with_five();
    /* server: the record's server or its node, exactly. */
    rp_pstore_filter_t f = {.server = "www.a.test"};
    expect_list(s, &f, 100, (int[]){5, 3, 1, 0}, 5);
    f = (rp_pstore_filter_t){.server = "n2"};
    expect_list(s, &f, 100, (int[]){3, 2, 0}, 5);
    f = (rp_pstore_filter_t){.server = "www.a"};
    expect_list(s, &f, 100, (int[]){0}, 5);
    /* path: a part of it. */
    f = (rp_pstore_filter_t){.path = "/api/users"};
    expect_list(s, &f, 100, (int[]){5, 4, 1, 0}, 5);
    f = (rp_pstore_filter_t){.path = "users/7"};
    expect_list(s, &f, 100, (int[]){4, 0}, 5);
    f = (rp_pstore_filter_t){.path = "/nowhere"};
    expect_list(s, &f, 100, (int[]){0}, 5);
    /* status, exactly. */
    f = (rp_pstore_filter_t){.status = 200};
    expect_list(s, &f, 100, (int[]){5, 3, 1, 0}, 5);
    f = (rp_pstore_filter_t){.status = 500};
    expect_list(s, &f, 100, (int[]){2, 0}, 5);
    /* min_ms: at least that long. */
    f = (rp_pstore_filter_t){.min_ms = 50};
    expect_list(s, &f, 100, (int[]){5, 3, 2, 0}, 5);
    f = (rp_pstore_filter_t){.min_ms = 50.5};
    expect_list(s, &f, 100, (int[]){5, 3, 0}, 5);
    /* trace: exactly, in either case. */
    f = (rp_pstore_filter_t){.trace = T1};
    expect_list(s, &f, 100, (int[]){5, 1, 0}, 5);
    f = (rp_pstore_filter_t){.trace = "4BF92F3577B34DA6A3CE929D0E0E4736"};
    expect_list(s, &f, 100, (int[]){5, 1, 0}, 5);
    f = (rp_pstore_filter_t){.trace = T3};
    expect_list(s, &f, 100, (int[]){3, 0}, 5);
    f = (rp_pstore_filter_t){.trace = "4bf92f3577b34da6"};
    expect_list(s, &f, 100, (int[]){0}, 5);
    /* All at once. */
    f = (rp_pstore_filter_t){
        .server = "www.a.test", .path = "/", .status = 200, .min_ms = 100};
    expect_list(s, &f, 100, (int[]){5, 3, 0}, 5);
    /* max counts matches: reading stops at the max-th. */
    f = (rp_pstore_filter_t){.server = "www.a.test"};
    expect_list(s, &f, 2, (int[]){5, 3, 0}, 3);
    f = (rp_pstore_filter_t){.status = 500};
    expect_list(s, &f, 1, (int[]){2, 0}, 4);
}
END_TEST

START_TEST(pstore_filter_match_fields)
{
    rp_saved_t p;
    memset(&p, 0, sizeof(p));
    p.server = "www.a.test";
    p.node = "web-1";
    p.path = "/api/users";
    p.status = 200;
    p.dur_ms = 12.5;
    p.trace = T1;
    ck_assert(rp_pstore_filter_match(NULL, &p));
    static const struct {
        rp_pstore_filter_t f;
        int match;
    } cases[] = {
        {{0}, 1},
        {{.server = "www.a.test"}, 1},
        {{.server = "web-1"}, 1},
        {{.server = "WWW.A.TEST"}, 0},
        {{.server = "web-10"}, 0},
        {{.path = "users"}, 1},
        {{.path = "/api/users/"}, 0},
        {{.status = 200}, 1},
        {{.status = 404}, 0},
        {{.min_ms = 12.5}, 1},
        {{.min_ms = 12.6}, 0},
        {{.min_ms = -1}, 1},
        {{.trace = T1}, 1},
        {{.trace = T3}, 0},
        {{.server = "web-1", .status = 200, .trace = T1}, 1},
        {{.server = "web-1", .status = 201, .trace = T1}, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(rp_pstore_filter_match(&cases[i].f, &p) == cases[i].match,
                      "case %zu", i);
    }
    /* A record without a trace matches only no trace filter. */
    p.trace = "";
    rp_pstore_filter_t f = {.trace = T1};
    ck_assert(!rp_pstore_filter_match(&f, &p));
}
END_TEST

/* What is not a complete profile of the module is not listed: a sidecar
 * that is not a record, a profile without its sidecar, other files. */
START_TEST(pstore_dir_lists_only_profiles)
{
    rp_pstore_t *s = store_with_five();
    const char *names[] = {"20231114T221330.000000Z-4242-90.meta",
                           "20231114T221331.000000Z-4242-91.html", "notes.meta",
                           "README"};
    const char *texts[] = {"not a record\n", "<p>half</p>", "type=reqprof\n",
                           "x"};
    for (int i = 0; i < 4; i++) {
        apr_file_t *f;
        ck_assert_int_eq(
            apr_file_open(&f, apr_pstrcat(pool, dir, "/", names[i], NULL),
                          APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                          APR_FPROT_OS_DEFAULT, pool),
            APR_SUCCESS);
        apr_size_t n = strlen(texts[i]);
        ck_assert_int_eq(apr_file_write_full(f, texts[i], n, NULL),
                         APR_SUCCESS);
        apr_file_close(f);
    }
    expect_list(s, NULL, 100, (int[]){5, 4, 3, 2, 1, 0}, 5);
}
END_TEST

START_TEST(pstore_dir_fetches_saved_files)
{
    rp_pstore_t *s = store_with_five();
    char *data = NULL;
    apr_size_t len = 0;
    const char *err = NULL;
    const char *html = apr_psprintf(pool, "<p>%s</p>", five[2].id);
    ck_assert_int_eq(rp_pstore_fetch(s, five[2].id, RP_STORE_HTML, 1000, pool,
                                     &data, &len, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(data, html);
    ck_assert_int_eq(len, strlen(html));
    ck_assert_int_eq(rp_pstore_fetch(s, five[2].id, RP_STORE_META, 4096, pool,
                                     &data, &len, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(data, sidecar_of(&five[2]));
    ck_assert_int_eq(rp_pstore_fetch(s, five[0].id, RP_STORE_SPEEDSCOPE, 2,
                                     pool, &data, &len, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(data, "{}");
    /* Larger than max. */
    ck_assert_int_eq(rp_pstore_fetch(s, five[2].id, RP_STORE_HTML, 5, pool,
                                     &data, &len, &err),
                     APR_ENOMEM);
    /* A file it does not have, a profile that is not there. */
    ck_assert_int_eq(
        rp_pstore_fetch(s, five[2].id, ".pprof", 1000, pool, &data, &len, &err),
        APR_ENOENT);
    ck_assert_int_eq(rp_pstore_fetch(s, "20231114T221320.000000Z-1-1",
                                     RP_STORE_HTML, 1000, pool, &data, &len,
                                     &err),
                     APR_ENOENT);
    /* Ids the module does not make are never looked up. */
    static const char *const bad[] = {
        "",
        "..",
        "../etc/passwd",
        "/etc/passwd",
        "20231114T221320.000000Z-4242-1/../x",
        "20231114T221320.000000Z-4242",
        "20231114T221320.000000Z-4242-1.html",
        "20231114t221320.000000z-4242-1",
        "20231114T221320.000000Z-4242-1 ",
        "p:20231114T221320.000000Z-4242-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        ck_assert_msg(rp_pstore_fetch(s, bad[i], RP_STORE_HTML, 1000, pool,
                                      &data, &len, &err) == APR_ENOENT,
                      "looked up '%s'", bad[i]);
        ck_assert_ptr_null(err);
    }
    ck_assert_int_eq(
        rp_pstore_fetch(s, NULL, RP_STORE_HTML, 1000, pool, &data, &len, &err),
        APR_ENOENT);
}
END_TEST

/* The directory's limits apply as it saves: the oldest go. */
START_TEST(pstore_dir_save_keeps_the_newest)
{
    rp_pstore_t *s = rp_pstore_dir(dir, 3, 0, pool);
    for (int i = 0; i < NFIVE; i++) {
        save(s, &five[i], (unsigned)i);
    }
    expect_list(s, NULL, 100, (int[]){5, 4, 3, 0}, 3);
    char *data;
    apr_size_t len;
    ck_assert_int_eq(rp_pstore_fetch(s, five[0].id, RP_STORE_HTML, 1000, pool,
                                     &data, &len, NULL),
                     APR_ENOENT);
    ck_assert_int_eq(rp_pstore_fetch(s, five[1].id, RP_STORE_META, 4096, pool,
                                     &data, &len, NULL),
                     APR_ENOENT);
}
END_TEST

START_TEST(pstore_dir_says_what_failed)
{
    const char *missing = apr_pstrcat(pool, dir, "/missing", NULL);
    rp_pstore_t *s = rp_pstore_dir(missing, 10, 0, pool);
    rp_store_file_t files[] = {{RP_STORE_META, "type=reqprof\n", 13}};
    const char *err = NULL;
    ck_assert_int_ne(rp_pstore_save(s, "20231114T221320.000000Z-1-1",
                                    base_time(), files, 1, pool, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, missing) != NULL, "%s", err);
    rp_saved_t *items = NULL;
    int count = -1, scanned = -1;
    err = NULL;
    ck_assert_int_ne(
        rp_pstore_list(s, NULL, 10, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(scanned, 0);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, missing) != NULL, "%s", err);
    ck_assert_msg(strstr(err, "cannot be listed") != NULL, "%s", err);
}
END_TEST

/* A directory has no writer thread, no drops, nothing to close. */
START_TEST(pstore_dir_is_not_shared)
{
    rp_pstore_t *s = store_with_five();
    ck_assert_str_eq(rp_pstore_name(s), apr_pstrcat(pool, "dir:", dir, NULL));
    ck_assert_int_eq(rp_pstore_is_shared(s), 0);
    rp_redis_stats_t st;
    memset(&st, 0xff, sizeof(st));
    rp_pstore_stats(s, &st);
    ck_assert_int_eq(st.submitted, 0);
    ck_assert_int_eq(st.dropped_down + st.dropped_full, 0);
    ck_assert_int_eq(st.connected, 0);
    ck_assert_ptr_null(rp_pstore_take_error(s, pool));
    apr_array_header_t *drops = NULL;
    ck_assert_int_eq(rp_pstore_drops(s, pool, &drops, NULL), APR_SUCCESS);
    ck_assert_ptr_nonnull(drops);
    ck_assert_int_eq(drops->nelts, 0);
    rp_pstore_close(s, apr_time_from_msec(100));
    /* Closing changes nothing for a directory. */
    prof_t later = {9, "www.c.test", "n3", NULL, "/late", 200, 1, NULL};
    save(s, &later, 9);
    rp_saved_t *items;
    int count, scanned;
    ck_assert_int_eq(
        rp_pstore_list(s, NULL, 1, pool, &items, &count, &scanned, NULL),
        APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_str_eq(items[0].id, later.id);
}
END_TEST

Suite *pstore_suite(void)
{
    Suite *s = suite_create("rp_pstore");
    TCase *tc = tcase_create("dir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pstore_dir_lists_newest_first);
    tcase_add_test(tc, pstore_dir_lists_with_each_filter);
    tcase_add_test(tc, pstore_filter_match_fields);
    tcase_add_test(tc, pstore_dir_lists_only_profiles);
    tcase_add_test(tc, pstore_dir_fetches_saved_files);
    tcase_add_test(tc, pstore_dir_save_keeps_the_newest);
    tcase_add_test(tc, pstore_dir_says_what_failed);
    tcase_add_test(tc, pstore_dir_is_not_shared);
    suite_add_tcase(s, tc);
    return s;
}
