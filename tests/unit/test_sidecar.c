/* rp_sidecar: a saved profile's sidecar, written and read back. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rp_sidecar.h"
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

/* Names a logfmt writer has to quote and escape: spaces, '=', quotes,
 * backslashes, a newline, a tab, UTF-8. */
static const rp_func_t f_start = {.name = "start_thread",
                                  .object = "libc.so.6"};
static const rp_func_t f_handler = {.name = "my handler=\"x\"",
                                    .object = "mod_my \\app.so"};
static const rp_func_t f_work = {.name = "work\n\tstep \xc3\xa9t\xc3\xa9",
                                 .object = "mod_my \\app.so"};
static const rp_func_t f_leaf = {.name = "leaf", .object = "[kernel]"};

static rp_profile_t *profile_of(unsigned extra_funcs)
{
    static const char *const collapse[] = {"libc.so*"};
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    p->method = "POST";
    p->uri = "/app/a b?x=1&y=\"2\"";
    p->host = "example.test";
    p->status = 201;
    p->pid = 11;
    p->tid = 12;
    p->request_started = apr_time_from_sec(1700000000) + 654321;
    p->stats.interval_us = 250;
    p->stats.clock = RP_CLOCK_WALL;
    p->stats.cpu_ns = 3250000;
    p->collapse = collapse;
    p->collapse_count = 1;
    p->tree = rp_tree_create(pool);
    const rp_func_t *a[] = {&f_start, &f_handler, &f_work};
    const rp_func_t *b[] = {&f_start, &f_handler, &f_work, &f_leaf};
    const rp_func_t *c[] = {&f_start, &f_handler};
    rp_tree_add(p->tree, a, 3, 7, 0);
    rp_tree_add(p->tree, b, 4, 3, 1);
    rp_tree_add(p->tree, c, 2, 2, 0);
    p->stats.samples = 3;
    p->stats.weight = 12;
    p->stats.wait_weight = 3;
    rp_func_t *more = apr_pcalloc(pool, sizeof(*more) * (extra_funcs + 1));
    for (unsigned i = 0; i < extra_funcs; i++) {
        more[i].name = apr_psprintf(pool, "extra_%u", i);
        more[i].object = "mod_extra.so";
        const rp_func_t *s[] = {&f_start, &f_handler, &more[i]};
        rp_tree_add(p->tree, s, 3, 1, 0);
        p->stats.samples++;
        p->stats.weight++;
    }
    rp_tree_sort(p->tree);
    return p;
}

static int same_ms(double read, double written_ms)
{
    return fabs(read - written_ms) < 0.0006;
}

/* Everything the writer puts in, the reader gives back: the record's
 * fields and every function line, in order, with its times. */
static void check_round_trip(const rp_profile_t *p)
{
    rp_record_info_t info = {.id = "20231114T221320.654321Z-11-4",
                             .mode = "trigger",
                             .ended = p->request_started + 4500};
    apr_size_t len;
    const char *text = rp_record_sidecar(p, &info, pool, &len);
    ck_assert_uint_eq(strlen(text), len);
    rp_saved_t s;
    const char *err = rp_saved_parse(text, len, 1, pool, &s);
    ck_assert_msg(err == NULL, "%s", err ? err : "");

    char ts[40];
    rp_record_timestamp(ts, sizeof(ts), p->request_started);
    ck_assert_str_eq(s.id, info.id);
    ck_assert_str_eq(s.ts, ts);
    ck_assert_str_eq(s.mode, "trigger");
    ck_assert_str_eq(s.host, "example.test");
    ck_assert_str_eq(s.method, "POST");
    ck_assert_str_eq(s.path, "/app/a%20b");
    ck_assert_str_eq(s.query, "x=1&y=%222%22");
    ck_assert_int_eq(s.status, 201);
    ck_assert(same_ms(s.dur_ms, 4.5));
    ck_assert(same_ms(s.cpu_ms, 3.25));
    ck_assert(same_ms(s.wait_ms, rp_profile_weight_ms(p, 3)));
    ck_assert_int_eq(s.samples, (long)p->stats.samples);

    rp_func_stat_t *funcs;
    unsigned n = rp_fold_funcs(p, pool, &funcs);
    unsigned listed = n < RP_RECORD_SIDECAR_FUNCS ? n : RP_RECORD_SIDECAR_FUNCS;
    ck_assert_int_eq(s.func_count, (int)listed);
    for (unsigned i = 0; i < listed; i++) {
        ck_assert_str_eq(s.funcs[i].name, funcs[i].name);
        ck_assert_str_eq(s.funcs[i].object, funcs[i].object);
        ck_assert(same_ms(s.funcs[i].self_ms,
                          rp_profile_weight_ms(p, funcs[i].self)));
        ck_assert(same_ms(s.funcs[i].total_ms,
                          rp_profile_weight_ms(p, funcs[i].total)));
    }
    /* The function with the most self time, as the record names it. */
    ck_assert_ptr_nonnull(s.top1);
    ck_assert_str_eq(s.top1, f_work.name);
    ck_assert(fabs(s.top1_pct - 100.0 * 7.0 / (double)p->tree->root.total) <
              0.06);

    /* The record line alone reads back the same, without functions. */
    rp_saved_t first;
    const char *nl = strchr(text, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_ptr_null(
        rp_saved_parse(text, (apr_size_t)(nl - text), 1, pool, &first));
    ck_assert_str_eq(first.id, s.id);
    ck_assert_str_eq(first.path, s.path);
    ck_assert_int_eq(first.func_count, 0);
}

START_TEST(sidecar_round_trip)
{
    check_round_trip(profile_of(0));
}
END_TEST

/* More functions than a sidecar lists: the heaviest are read back. */
START_TEST(sidecar_round_trip_many_functions)
{
    rp_profile_t *p = profile_of(RP_RECORD_SIDECAR_FUNCS + 100);
    check_round_trip(p);
}
END_TEST

/* The fleet's fields: the server that served the request, the machine and
 * the trace id, in the record (so in the sidecar's first line, which
 * listings read) and read back with the process id; "" when not given. */
START_TEST(sidecar_round_trip_server_node_trace)
{
    rp_profile_t *p = profile_of(0);
    rp_record_info_t info = {.id = "20231114T221320.654321Z-11-5",
                             .mode = "store",
                             .ended = p->request_started + 1000,
                             .server = "shop example",
                             .node = "web-07.dc1",
                             .trace = "4bf92f3577b34da6a3ce929d0e0e4736"};
    apr_size_t len;
    const char *text = rp_record_sidecar(p, &info, pool, &len);
    rp_saved_t s;
    const char *err = rp_saved_parse(text, len, 1, pool, &s);
    ck_assert_msg(err == NULL, "%s", err ? err : "");
    ck_assert_str_eq(s.mode, "store");
    ck_assert_str_eq(s.server, "shop example");
    ck_assert_str_eq(s.node, "web-07.dc1");
    ck_assert_str_eq(s.trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_int_eq(s.pid, 11);
    ck_assert_str_eq(s.host, "example.test");
    ck_assert_int_eq(s.status, 201);
    /* The record line alone says as much. */
    const char *nl = strchr(text, '\n');
    ck_assert_ptr_null(
        rp_saved_parse(text, (apr_size_t)(nl - text), 0, pool, &s));
    ck_assert_str_eq(s.server, "shop example");
    ck_assert_str_eq(s.node, "web-07.dc1");
    ck_assert_str_eq(s.trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_ptr_nonnull(strstr(text,
                                 " server=\"shop example\" "
                                 "node=web-07.dc1 "
                                 "trace=4bf92f3577b34da6a3ce929d0e0e4736 "));
    /* Unset, the keys are left out and read back empty. */
    info.server = info.node = info.trace = NULL;
    text = rp_record_sidecar(p, &info, pool, &len);
    ck_assert_ptr_null(strstr(text, "server="));
    ck_assert_ptr_null(strstr(text, "node="));
    ck_assert_ptr_null(strstr(text, "trace="));
    ck_assert_ptr_null(rp_saved_parse(text, len, 1, pool, &s));
    ck_assert_str_eq(s.server, "");
    ck_assert_str_eq(s.node, "");
    ck_assert_str_eq(s.trace, "");
    ck_assert_int_eq(s.pid, 11);
}
END_TEST

START_TEST(sidecar_reader_refuses_other_text)
{
    rp_saved_t s;
    ck_assert_ptr_nonnull(rp_saved_parse("type=func a=1\n", 14, 1, pool, &s));
    ck_assert_ptr_nonnull(rp_saved_parse("", 0, 1, pool, &s));
    ck_assert_ptr_nonnull(rp_saved_parse("type=\"unclosed", 14, 0, pool, &s));
}
END_TEST

Suite *sidecar_suite(void)
{
    Suite *s = suite_create("rp_sidecar");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sidecar_round_trip);
    tcase_add_test(tc, sidecar_round_trip_many_functions);
    tcase_add_test(tc, sidecar_round_trip_server_node_trace);
    tcase_add_test(tc, sidecar_reader_refuses_other_text);
    suite_add_tcase(s, tc);
    return s;
}
