/* rp_stacks: a profile's stacks as text, and sums of many. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <check.h>
#include <string.h>

#include "rp_collapsed.h"
#include "rp_html.h"
#include "rp_stacks.h"
#include "rp_text.h"
#include "unit_suites.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const rp_func_t f_main = {"main", "httpd", NULL, 0, 1, 0};
static const rp_func_t f_handler = {"handler", "mod_app.so", NULL, 0, 1, 0};
static const rp_func_t f_alpha = {"work_alpha", "mod_app.so", NULL, 0, 1, 0};
static const rp_func_t f_poll = {"[syscall poll]", "[kernel]", NULL, 0, 1, 0};
static const rp_func_t f_hostile = {"a;b <x> [y]", "lib[z].so", NULL, 0, 1, 0};

static void add(rp_profile_t *p, const rp_func_t *const *frames, unsigned depth,
                uint32_t weight, int waiting)
{
    rp_stack_t s = {.frames = frames,
                    .depth = depth,
                    .weight = weight,
                    .waiting = waiting,
                    .syscall = -1};
    rp_profile_add_stack(p, &s);
}

/* main > handler > work_alpha: cpu; main > handler > poll: waiting;
 * main > handler itself: cpu; at interval_us. */
static rp_profile_t *sample_profile(unsigned alpha, unsigned poll,
                                    unsigned self, apr_interval_time_t interval)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    rp_profile_begin(p, pool);
    const rp_func_t *a[] = {&f_main, &f_handler, &f_alpha};
    const rp_func_t *w[] = {&f_main, &f_handler, &f_poll};
    if (alpha) {
        add(p, a, 3, alpha, 0);
    }
    if (poll) {
        add(p, w, 3, poll, 1);
    }
    if (self) {
        add(p, a, 2, self, 0);
    }
    rp_profile_end(p);
    p->stats.interval_us = interval;
    p->method = "GET";
    p->uri = "/x";
    return p;
}

static const char *render(const rp_profile_t *p)
{
    apr_size_t len;
    const char *s = rp_stacks_render(p, pool, &len);
    ck_assert_uint_eq(strlen(s), len);
    return s;
}

static int has_line(const char *text, const char *line)
{
    return strstr(text, apr_pstrcat(pool, line, "\n", NULL)) != NULL;
}

START_TEST(render_gives_cpu_and_wait_in_microseconds)
{
    const char *s = render(sample_profile(3, 2, 1, 1000));
    ck_assert_msg(has_line(s, "main [httpd];handler [mod_app.so];work_alpha "
                              "[mod_app.so] 3000 0"),
                  "%s", s);
    ck_assert_msg(has_line(s, "main [httpd];handler [mod_app.so];[syscall "
                              "poll] [kernel] 0 2000"),
                  "%s", s);
    ck_assert_msg(has_line(s, "main [httpd];handler [mod_app.so] 1000 0"), "%s",
                  s);
    /* Three lines, nothing else. */
    int lines = 0;
    for (const char *c = s; *c; c++) {
        lines += *c == '\n';
    }
    ck_assert_int_eq(lines, 3);
}
END_TEST

START_TEST(a_sum_of_one_renders_the_same_lines)
{
    rp_profile_t *p = sample_profile(7, 4, 2, 100);
    const char *once = render(p);
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, once, strlen(once)), 0);
    rp_profile_t merged = {0};
    rp_stacks_sum_profile(sum, &merged);
    const char *again = render(&merged);
    /* Same lines, maybe in another order. */
    ck_assert_uint_eq(strlen(again), strlen(once));
    for (const char *line = once; *line;) {
        const char *nl = strchr(line, '\n');
        ck_assert_msg(has_line(again, apr_pstrmemdup(pool, line, nl - line)),
                      "%s missing from %s", line, again);
        line = nl + 1;
    }
    ck_assert_uint_eq(rp_stacks_sum_total_us(sum), 1300);
    ck_assert_uint_eq(merged.stats.wait_weight, 400);
}
END_TEST

/* Profiles at different intervals add up in time; the tree keeps the
 * waiting part apart. */
START_TEST(sums_add_per_stack)
{
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    const char *a = render(sample_profile(3, 2, 0, 1000));
    const char *b = render(sample_profile(10, 0, 5, 100));
    rp_stacks_sum_add(sum, a, strlen(a));
    rp_stacks_sum_add(sum, b, strlen(b));
    ck_assert_uint_eq(rp_stacks_sum_profiles(sum), 2);
    ck_assert_uint_eq(rp_stacks_sum_total_us(sum), 3000 + 2000 + 1000 + 500);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    const char *s = render(&m);
    ck_assert_msg(has_line(s, "main [httpd];handler [mod_app.so];work_alpha "
                              "[mod_app.so] 4000 0"),
                  "%s", s);
    ck_assert_msg(has_line(s, "main [httpd];handler [mod_app.so] 500 0"), "%s",
                  s);
    const rp_node_t *main_node = m.tree->root.first_child;
    ck_assert_str_eq(main_node->func->name, "main");
    ck_assert_str_eq(main_node->func->object, "httpd");
    ck_assert_uint_eq(main_node->total, 6500);
    ck_assert_uint_eq(main_node->wait, 2000);
    ck_assert_double_eq_tol(rp_profile_weight_ms(&m, main_node->total), 6.5,
                            1e-9);
}
END_TEST

START_TEST(kernel_frames_keep_their_brackets)
{
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    const char *text = "a [x.so];[syscall poll] [kernel] 0 5\n";
    rp_stacks_sum_add(sum, text, strlen(text));
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    const rp_node_t *leaf = m.tree->root.first_child->first_child;
    ck_assert_str_eq(leaf->func->name, "[syscall poll]");
    ck_assert_str_eq(leaf->func->object, "[kernel]");
    ck_assert_str_eq(render(&m), text);
}
END_TEST

/* Text from a store: what is not a line of the form is skipped. */
START_TEST(malformed_lines_are_skipped)
{
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    static const char text[] = "ok [x] 1 2\n"
                               "no numbers\n"
                               "one [x] 5\n"
                               " 1 2\n"
                               "neg [x] -1 2\n"
                               "big [x] 1234567890123456 0\n"
                               "hex [x] 0x10 0\n"
                               "nul [x]\0 1 2\n"
                               "ok [x] 3 4";
    unsigned skipped = rp_stacks_sum_add(sum, text, sizeof(text) - 1);
    ck_assert_uint_eq(skipped, 7);
    ck_assert_uint_eq(rp_stacks_sum_total_us(sum), 10);
    /* Too deep. */
    char *deep = apr_palloc(pool, 3 * (RP_STACKS_MAX_DEPTH + 1) + 8);
    char *p = deep;
    for (int i = 0; i <= RP_STACKS_MAX_DEPTH; i++) {
        *p++ = 'f';
        *p++ = ';';
    }
    memcpy(p - 1, " 1 1\n", 6);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, deep, strlen(deep)), 1);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, "", 0), 0);
}
END_TEST

/* A merged profile renders in the report and the text format; names with
 * separators and markup come back as they were written, escaped. */
START_TEST(merged_profiles_render)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    rp_profile_begin(p, pool);
    const rp_func_t *h[] = {&f_main, &f_hostile};
    add(p, h, 2, 4, 0);
    rp_profile_end(p);
    p->stats.interval_us = 1000;
    const char *text = render(p);
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, text, strlen(text)), 0);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    m.method = "GET";
    m.uri = "<route>";
    apr_size_t len;
    const char *html = rp_html_render(&m, pool, &len);
    ck_assert_ptr_nonnull(html);
    ck_assert_msg(strstr(html, "<route>") == NULL, "unescaped uri");
    const char *plain = rp_text_render(&m, pool, &len);
    ck_assert_msg(strstr(plain, "main") != NULL, "%s", plain);
}
END_TEST

Suite *stacks_suite(void)
{
    Suite *s = suite_create("rp_stacks");
    TCase *tc = tcase_create("stacks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, render_gives_cpu_and_wait_in_microseconds);
    tcase_add_test(tc, a_sum_of_one_renders_the_same_lines);
    tcase_add_test(tc, sums_add_per_stack);
    tcase_add_test(tc, kernel_frames_keep_their_brackets);
    tcase_add_test(tc, malformed_lines_are_skipped);
    tcase_add_test(tc, merged_profiles_render);
    suite_add_tcase(s, tc);
    return s;
}
