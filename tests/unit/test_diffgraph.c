/* rp_diffgraph: a differential flame graph of two profiles, read back from
 * the page: each frame's shares, colour and marker, the functions table,
 * escaping, empty sides and the bounds on big trees. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "rp_diffgraph.h"
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
static const rp_func_t f_grow = {"grow", "app.so", NULL, 0, 1, 0};
static const rp_func_t f_shrink = {"shrink", "app.so", NULL, 0, 1, 0};
static const rp_func_t f_gone = {"gone", "app.so", NULL, 0, 1, 0};
static const rp_func_t f_fresh = {"fresh", "app.so", NULL, 0, 1, 0};

static rp_profile_t *profile_begin(apr_interval_time_t interval_us)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    rp_profile_begin(p, pool);
    p->stats.interval_us = interval_us;
    return p;
}

/* main > leaf, weight intervals. */
static void add_leaf(rp_profile_t *p, const rp_func_t *leaf, uint32_t weight)
{
    const rp_func_t *frames[] = {&f_main, leaf};
    rp_stack_t s = {
        .frames = frames, .depth = 2, .weight = weight, .syscall = -1};
    rp_profile_add_stack(p, &s);
}

/* Before (1 ms a weight): grow 25 %, shrink 37.5 %, gone 37.5 %. After
 * (0.1 ms a weight, ten times the weight: shares are per side): grow 75 %,
 * shrink 20 %, fresh 5 %. */
static const char *render_example(apr_size_t *len)
{
    rp_profile_t *before = profile_begin(1000);
    add_leaf(before, &f_grow, 2);
    add_leaf(before, &f_shrink, 3);
    add_leaf(before, &f_gone, 3);
    rp_profile_end(before);
    rp_profile_t *after = profile_begin(100);
    add_leaf(after, &f_grow, 30);
    add_leaf(after, &f_shrink, 8);
    add_leaf(after, &f_fresh, 2);
    rp_profile_end(after);
    rp_diffgraph_labels_t labels = {"route GET /x", "the hour before",
                                    "the last hour"};
    return rp_diffgraph_render(before, after, &labels, pool, len);
}

/* A frame as the page draws it. */
typedef struct {
    char classes[64];
    double before, after;       /* shares, from the tooltip */
    double before_ms, after_ms; /* from the tooltip */
    char change[32];            /* "+50" */
    char fill[8];
    double width;
    int only_marked; /* the tooltip says "(only in ...)" */
} frame_t;

/* Reads the frame named name from the page; 0 if there is none. */
static int find_frame(const char *html, const char *name, frame_t *f)
{
    const char *at =
        strstr(html, apr_pstrcat(pool, "\" data-name=\"", name, "\"", NULL));
    if (at == NULL) {
        return 0;
    }
    const char *g = at;
    while (g > html && strncmp(g, "<g class=\"", 10) != 0) {
        g--;
    }
    apr_cpystrn(f->classes, g + 10,
                (apr_size_t)(at - g - 10 + 1) < sizeof(f->classes)
                    ? (apr_size_t)(at - g - 10 + 1)
                    : sizeof(f->classes));
    const char *title = strstr(at, "<title>");
    const char *end = strstr(title, "</title>");
    ck_assert_ptr_nonnull(title);
    ck_assert_ptr_nonnull(end);
    char *text = apr_pstrmemdup(pool, title + 7, (apr_size_t)(end - title - 7));
    const char *colon = strstr(text, ": before ");
    ck_assert_ptr_nonnull(colon);
    ck_assert_int_eq(sscanf(colon,
                            ": before %lf %% (%lf ms), after %lf %% (%lf ms), "
                            "%31s points",
                            &f->before, &f->before_ms, &f->after, &f->after_ms,
                            f->change),
                     5);
    f->only_marked = strstr(text, "(only in ") != NULL;
    ck_assert_int_eq(
        sscanf(strstr(end, "width=\""), "width=\"%lf\"", &f->width), 1);
    ck_assert_int_eq(sscanf(strstr(end, "fill=\""), "fill=\"%7s\"", f->fill),
                     1);
    return 1;
}

START_TEST(grown_is_red_and_shrunk_is_blue)
{
    apr_size_t len;
    const char *html = render_example(&len);
    ck_assert_uint_eq(strlen(html), len);
    frame_t f;
    ck_assert_msg(find_frame(html, "grow", &f), "%s", html);
    ck_assert_double_eq_tol(f.before, 25.0, 1e-9);
    ck_assert_double_eq_tol(f.after, 75.0, 1e-9);
    ck_assert_double_eq_tol(f.before_ms, 2.0, 1e-9);
    ck_assert_double_eq_tol(f.after_ms, 3.0, 1e-9);
    ck_assert_str_eq(f.change, "+50");
    ck_assert_str_eq(f.fill, "#ff2828"); /* 25 points or more: full red */
    ck_assert_double_eq_tol(f.width, 600.0, 0.01); /* half of 1200 */
    ck_assert_str_eq(f.classes, "rp-frame");
    ck_assert(!f.only_marked);

    ck_assert(find_frame(html, "shrink", &f));
    ck_assert_double_eq_tol(f.before, 37.5, 1e-9);
    ck_assert_double_eq_tol(f.after, 20.0, 1e-9);
    ck_assert_str_eq(f.change, "\xe2\x88\x92"
                               "17.5");
    /* 17.5 of 25 points: blue at 70 % strength. */
    ck_assert_str_eq(f.fill, "#6868ff");
    ck_assert_str_eq(f.classes, "rp-frame");

    /* The caller: the same share on both sides, neutral. */
    ck_assert(find_frame(html, "main", &f));
    ck_assert_str_eq(f.fill, "#ffffff");
    ck_assert_str_eq(f.change, "+0");
}
END_TEST

START_TEST(frames_of_one_side_are_marked)
{
    apr_size_t len;
    const char *html = render_example(&len);
    frame_t f;
    ck_assert(find_frame(html, "gone", &f));
    ck_assert_str_eq(f.classes, "rp-frame rp-only-before");
    ck_assert(f.only_marked);
    ck_assert_double_eq_tol(f.after, 0.0, 1e-9);
    ck_assert_str_eq(f.fill, "#2828ff");
    ck_assert(strstr(html, "(only in before)</title>") != NULL);

    ck_assert(find_frame(html, "fresh", &f));
    ck_assert_str_eq(f.classes, "rp-frame rp-only-after");
    ck_assert(f.only_marked);
    ck_assert_double_eq_tol(f.after, 5.0, 1e-9);
    ck_assert_str_eq(f.fill, "#ffd4d4"); /* 5 points: a light red */
    /* Still visible: as wide as its share of both together. */
    ck_assert_double_eq_tol(f.width, 1200 * 0.025, 0.01);
    /* One-side frames are outlined, others not. */
    ck_assert(strstr(html, "stroke-dasharray") != NULL);
}
END_TEST

/* The table: growth first, shrinkage last, self times per side. */
START_TEST(functions_by_change)
{
    apr_size_t len;
    const char *html = render_example(&len);
    const char *order[] = {">grow<", ">fresh<", ">shrink<", ">gone<"};
    const char *at = strstr(html, "<table class=\"rp-diff-funcs\">");
    ck_assert_ptr_nonnull(at);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *next = strstr(at, order[i]);
        ck_assert_msg(next != NULL, "%s not after the previous row", order[i]);
        at = next;
    }
    /* grow: 2 ms (25 %) before, 3 ms (75 %) after. */
    ck_assert_msg(strstr(html, "<td class=\"mono\">grow</td><td>app.so</td>"
                               "<td class=\"n\">2</td><td class=\"n\">25</td>"
                               "<td class=\"n\">3</td><td class=\"n\">75</td>"
                               "<td class=\"n\">+50</td>") != NULL,
                  "%s", html);
    /* main has no self time: no row. */
    ck_assert(strstr(html, "<td class=\"mono\">main</td>") == NULL);
    /* Both sides' totals and captions. */
    ck_assert(strstr(html, "the hour before — 8 ms in all") != NULL);
    ck_assert(strstr(html, "the last hour — 4 ms in all") != NULL);
}
END_TEST

START_TEST(names_are_escaped)
{
    static const rp_func_t evil = {
        "<script>alert(1)</script>", "a\"b&c'.so", NULL, 0, 1, 0};
    rp_profile_t *before = profile_begin(1000);
    add_leaf(before, &f_grow, 1);
    rp_profile_end(before);
    rp_profile_t *after = profile_begin(1000);
    add_leaf(after, &evil, 1);
    rp_profile_end(after);
    rp_diffgraph_labels_t labels = {"<b>title</b>&", "<i>\"b\"</i>",
                                    "<img src=x>"};
    apr_size_t len;
    const char *html = rp_diffgraph_render(before, after, &labels, pool, &len);
    ck_assert(strstr(html, "<script") == NULL);
    ck_assert(strstr(html, "<b>title") == NULL);
    ck_assert(strstr(html, "<i>") == NULL);
    ck_assert(strstr(html, "<img") == NULL);
    ck_assert(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    ck_assert(strstr(html, "a&quot;b&amp;c&#39;.so") != NULL);
    ck_assert(strstr(html, "&lt;b&gt;title&lt;/b&gt;&amp;") != NULL);
    /* The attribute holding the name is not broken out of. */
    ck_assert(strstr(html, "data-name=\"&lt;script&gt;") != NULL);
}
END_TEST

START_TEST(empty_sides_say_so)
{
    rp_profile_t *empty = profile_begin(1000);
    rp_profile_end(empty);
    rp_profile_t *full = profile_begin(1000);
    add_leaf(full, &f_grow, 3);
    rp_profile_end(full);
    apr_size_t len;
    const char *html = rp_diffgraph_render(empty, full, NULL, pool, &len);
    ck_assert_uint_eq(strlen(html), len);
    ck_assert(strstr(html, "The before side has no samples:") != NULL);
    ck_assert(strstr(html, "<svg") == NULL);
    ck_assert(strstr(html, "</html>\n") != NULL);
    html = rp_diffgraph_render(full, empty, NULL, pool, &len);
    ck_assert(strstr(html, "The after side has no samples:") != NULL);
    ck_assert(strstr(html, "<svg") == NULL);
    html = rp_diffgraph_render(empty, empty, NULL, pool, &len);
    ck_assert(strstr(html, "The before side has no samples, nor has the "
                           "after side") != NULL);
}
END_TEST

/* A tree too wide to draw: frames under 0.1 % are left out and counted
 * (with their callees), the table keeps the largest changes. */
START_TEST(huge_trees_are_bounded)
{
    enum { NARROW = 1500 };
    rp_func_t *narrow = apr_pcalloc(pool, sizeof(*narrow) * NARROW);
    rp_profile_t *before = profile_begin(1000);
    rp_profile_t *after = profile_begin(1000);
    for (int i = 0; i < NARROW; i++) {
        narrow[i].name = apr_psprintf(pool, "narrow_%d", i);
        narrow[i].object = "app.so";
        add_leaf(before, &narrow[i], 1 + (uint32_t)(i % 7));
        add_leaf(after, &narrow[i], 1 + (uint32_t)(i % 5));
    }
    /* One narrow frame with a callee of its own: two frames left out. */
    const rp_func_t *deep[] = {&f_main, &narrow[0], &f_fresh};
    rp_stack_t s = {.frames = deep, .depth = 3, .weight = 1, .syscall = -1};
    rp_profile_add_stack(after, &s);
    add_leaf(before, &f_grow, 100000);
    add_leaf(after, &f_grow, 100000);
    rp_profile_end(before);
    rp_profile_end(after);
    apr_size_t len;
    const char *html = rp_diffgraph_render(before, after, NULL, pool, &len);
    char *note =
        apr_psprintf(pool, "%d frames narrower than 0.1 %%", NARROW + 1);
    ck_assert_msg(strstr(html, note) != NULL, "no \"%s\"", note);
    int drawn = 0, rows = 0;
    for (const char *p = html; (p = strstr(p, "<g class=\"rp-frame")); p++) {
        drawn++;
    }
    for (const char *p = html; (p = strstr(p, "<tr class=\"rp-diff-func"));
         p++) {
        rows++;
    }
    ck_assert_int_eq(drawn, 3); /* all, main, grow */
    ck_assert_int_eq(rows, RP_DIFFGRAPH_MAX_FUNCTIONS);
    note = apr_psprintf(pool, "%d functions with smaller changes left out",
                        NARROW + 2 - RP_DIFFGRAPH_MAX_FUNCTIONS);
    ck_assert_msg(strstr(html, note) != NULL, "no \"%s\"", note);
    ck_assert(len < 200 * 1024);
}
END_TEST

Suite *diffgraph_suite(void)
{
    Suite *s = suite_create("rp_diffgraph");
    TCase *tc = tcase_create("diffgraph");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, grown_is_red_and_shrunk_is_blue);
    tcase_add_test(tc, frames_of_one_side_are_marked);
    tcase_add_test(tc, functions_by_change);
    tcase_add_test(tc, names_are_escaped);
    tcase_add_test(tc, empty_sides_say_so);
    tcase_add_test(tc, huge_trees_are_bounded);
    suite_add_tcase(s, tc);
    return s;
}
