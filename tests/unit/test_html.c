/* rp_html: the self-contained report page, from a profile built by hand. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

#include "rp_export.h"
#include "rp_html.h"
#include "rp_version.h"
#include "unit_suites.h"

static apr_pool_t *pool;

static const rp_func_t f_main = {.name = "main",
                                 .object = "httpd",
                                 .file = "main.c",
                                 .line = 10,
                                 .resolved = 1};
static const rp_func_t f_handler = {.name = "handler<b>x</b>",
                                    .object = "mod_\"evil\".so",
                                    .file = "h&c.c",
                                    .line = 77,
                                    .resolved = 1};
static const rp_func_t f_leaf = {
    .name = "leaf", .object = "libc.so.6", .resolved = 1};
static const rp_func_t f_cold = {
    .name = "cold", .object = "httpd", .resolved = 0};

static const char hostile_uri[] = "/x?<script>alert(1)</script>&\"'";
static const char escaped_uri[] =
    "/x?&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;";

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
    p->uri = hostile_uri;
    p->protocol = "HTTP/1.1";
    p->host = "example.test<i>";
    p->status = 404;
    p->discarded_bytes = 1234;
    p->server = "Apache/2.4 (Unix)";
    p->mpm = "event";
    p->pid = 4242;
    p->tid = 4343;
    p->started = apr_time_from_sec(1700000000);
    p->stats.wall_ns = 4500000;
    p->stats.cpu_ns = 4000000;
    p->stats.interval_us = 1000;
    p->stats.clock = RP_CLOCK_WALL;
    p->tree = rp_tree_create(pool);
    return p;
}

/* Adds one on-CPU sample of one interval, the millisecond after the
 * previous one, through the profile builder. */
static void add_stack(rp_profile_t *p, const rp_func_t *const *frames,
                      unsigned depth)
{
    rp_stack_t s = {.frames = frames,
                    .depth = depth,
                    .t_ns = p->stats.weight * 1000000u,
                    .weight = 1,
                    .phase = RP_PHASE_HANDLER,
                    .syscall = -1};
    rp_profile_add_stack(p, &s);
}

/* main -> handler<b>x</b> -> leaf (3 intervals), main -> cold (1): four
 * samples. */
static rp_profile_t *three_to_one_profile(void)
{
    rp_profile_t *p = base_profile();
    const rp_func_t *hot[] = {&f_main, &f_handler, &f_leaf};
    const rp_func_t *cold[] = {&f_main, &f_cold};
    for (int i = 0; i < 3; i++) {
        add_stack(p, hot, 3);
    }
    add_stack(p, cold, 2);
    rp_profile_end(p);
    return p;
}

static const char *render(const rp_profile_t *p)
{
    apr_size_t len = 0;
    const char *page = rp_html_render(p, pool, &len);
    ck_assert_ptr_nonnull(page);
    ck_assert_uint_eq(len, strlen(page));
    return page;
}

static void assert_contains(const char *page, const char *needle)
{
    ck_assert_msg(strstr(page, needle) != NULL, "page lacks: %s", needle);
}

static void assert_lacks(const char *page, const char *needle)
{
    ck_assert_msg(strstr(page, needle) == NULL, "page contains: %s", needle);
}

static unsigned occurrences(const char *page, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(page, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* The <li> element whose data-func is name, up to the end of its row. */
static const char *node_markup(const char *page, const char *escaped_name)
{
    const char *attr =
        apr_pstrcat(pool, "data-func=\"", escaped_name, "\"", NULL);
    const char *start = strstr(page, attr);
    ck_assert_msg(start != NULL, "no node %s", escaped_name);
    const char *li = start;
    while (li > page && strncmp(li, "<li", 3) != 0) {
        li--;
    }
    const char *end = strstr(start, "</summary>");
    const char *div_end = strstr(start, "</div>");
    if (end == NULL || (div_end != NULL && div_end < end)) {
        end = div_end;
    }
    ck_assert_ptr_nonnull(end);
    return apr_pstrndup(pool, li, (apr_size_t)(end - li));
}

START_TEST(document_shape)
{
    const char *page = render(three_to_one_profile());
    ck_assert_int_eq(strncmp(page, "<!DOCTYPE html>", 15), 0);
    assert_contains(page, "<meta charset=\"utf-8\">");
    assert_contains(page,
                    "<meta name=\"generator\" content=\"mod_reqprof " RP_VERSION
                    "\">");
    ck_assert_str_eq(page + strlen(page) - strlen("</html>\n"), "</html>\n");
    ck_assert_uint_eq(occurrences(page, "<html"), 1);
    ck_assert_uint_eq(occurrences(page, "<body>"), 1);
    ck_assert_uint_eq(occurrences(page, "</body>"), 1);
    /* Every <li> and <details> is closed. */
    ck_assert_uint_eq(occurrences(page, "<li "), occurrences(page, "</li>"));
    ck_assert_uint_eq(occurrences(page, "<details"),
                      occurrences(page, "</details>"));
    ck_assert_uint_eq(occurrences(page, "<ul"), occurrences(page, "</ul>"));
    ck_assert_uint_eq(occurrences(page, "<li "), 4);
    /* The data block and the script, each closed once. */
    ck_assert_uint_eq(occurrences(page, "<script"), 2);
    ck_assert_uint_eq(occurrences(page, "</script>"), 2);
    assert_contains(page, "<script type=\"application/json\" id=\"rp-data\">{");
    ck_assert_uint_eq(occurrences(page, "<style>"), 1);
    ck_assert_uint_eq(occurrences(page, "</style>"), 1);
}
END_TEST

START_TEST(request_text_is_escaped)
{
    const char *page = render(three_to_one_profile());
    assert_lacks(page, "<script>alert");
    assert_lacks(page, "</script>&");
    assert_lacks(page, "<i>");
    /* In the title and in the summary table. */
    ck_assert_uint_ge(occurrences(page, escaped_uri), 2);
    assert_contains(page, "<title>Profile: GET ");
    assert_contains(page, "example.test&lt;i&gt;");
    assert_contains(page, "<td>GET</td>");
    assert_contains(page, "<td>HTTP/1.1</td>");
}
END_TEST

START_TEST(function_names_are_escaped)
{
    const char *page = render(three_to_one_profile());
    assert_lacks(page, "<b>");
    assert_lacks(page, "mod_\"evil\"");
    assert_contains(page, "data-func=\"handler&lt;b&gt;x&lt;/b&gt;\"");
    assert_contains(page, "data-obj=\"mod_&quot;evil&quot;.so\"");
    assert_contains(page,
                    "<span class=\"rp-fn\">handler&lt;b&gt;x&lt;/b&gt;</span>");
    assert_contains(page, "h&amp;c.c:77");
    assert_contains(page, "data-func=\"main\"");
    assert_contains(page, "data-func=\"leaf\"");
    assert_contains(page, "data-func=\"cold\"");
    assert_contains(page, "main.c:10");
}
END_TEST

START_TEST(percentages_and_times)
{
    const char *page = render(three_to_one_profile());
    const char *m = node_markup(page, "main");
    const char *h = node_markup(page, "handler&lt;b&gt;x&lt;/b&gt;");
    const char *l = node_markup(page, "leaf");
    const char *c = node_markup(page, "cold");
    assert_contains(m, ">100.0%<");
    assert_contains(h, ">75.0%<");
    assert_contains(l, ">75.0%<");
    assert_contains(c, ">25.0%<");
    assert_contains(h, "width:75.0%");
    assert_contains(c, "width:25.0%");
    /* Weight x interval, in microseconds and in milliseconds. */
    assert_contains(m, "data-total-us=\"4000\"");
    assert_contains(m, "data-self-us=\"0\"");
    assert_contains(h, "data-total-us=\"3000\"");
    assert_contains(l, "data-total-us=\"3000\"");
    assert_contains(l, "data-self-us=\"3000\"");
    assert_contains(c, "data-total-us=\"1000\"");
    assert_contains(h, "data-total-weight=\"3\"");
    assert_contains(c, "data-self-weight=\"1\"");
    assert_contains(m, "4.000 ms");
    assert_contains(h, "3.000 ms");
    assert_contains(l, "self 3.000 ms");
    assert_lacks(m, "self ");
    assert_lacks(h, "self ");
}
END_TEST

START_TEST(heaviest_path_is_open)
{
    const char *page = render(three_to_one_profile());
    const char *m = node_markup(page, "main");
    const char *h = node_markup(page, "handler&lt;b&gt;x&lt;/b&gt;");
    const char *l = node_markup(page, "leaf");
    const char *c = node_markup(page, "cold");
    assert_contains(m, "<details open>");
    assert_contains(h, "<details open>");
    assert_contains(m, "rp-hot");
    assert_contains(h, "rp-hot");
    assert_contains(l, "rp-hot");
    assert_lacks(c, "rp-hot");
    assert_lacks(c, "<details");
    /* main and the handler have children: both open; nothing else. */
    ck_assert_uint_eq(occurrences(page, "<details open>"), 2);
    /* The heavier child comes first. */
    const char *hot = strstr(page, "data-func=\"handler");
    const char *cold = strstr(page, "data-func=\"cold\"");
    ck_assert(hot != NULL && cold != NULL && hot < cold);
}
END_TEST

START_TEST(cold_subtree_is_closed)
{
    /* main -> a (3) and main -> b -> c (1): b has children but is not on
     * the heaviest path, so its <details> starts closed. */
    static const rp_func_t fa = {.name = "fa", .object = "o"};
    static const rp_func_t fb = {.name = "fb", .object = "o"};
    static const rp_func_t fc = {.name = "fc", .object = "o"};
    rp_profile_t *p = base_profile();
    const rp_func_t *s1[] = {&f_main, &fa};
    const rp_func_t *s2[] = {&f_main, &fb, &fc};
    rp_tree_add(p->tree, s2, 3, 1, 0);
    rp_tree_add(p->tree, s1, 2, 3, 0);
    rp_tree_sort(p->tree);
    const char *page = render(p);
    const char *b = node_markup(page, "fb");
    assert_contains(b, "<details>");
    assert_lacks(b, "<details open>");
    assert_lacks(b, "rp-hot");
    assert_contains(node_markup(page, "fa"), "rp-hot");
    ck_assert_uint_eq(occurrences(page, "<details open>"), 1);
}
END_TEST

START_TEST(summary_values)
{
    const char *page = render(three_to_one_profile());
    assert_contains(page, "<tr data-key=\"status\"><th>Original status</th>"
                          "<td>404</td></tr>");
    assert_contains(page, "<td>1234 bytes (discarded)</td>");
    assert_contains(page, "<td>4.500 ms</td>");
    assert_contains(page, "<td>4.000 ms</td>");
    assert_contains(page, "<td>4 (4 intervals)</td>");
    assert_contains(page, "<td>1000 us</td>");
    assert_contains(page, "wall (waiting time counts)");
    assert_contains(page, "<td>event</td>");
    assert_contains(page, "pid 4242, tid 4343");
    assert_contains(page, "Tue, 14 Nov 2023 22:13:20 GMT");
    /* Nothing was lost, so no "Lost" row. */
    assert_lacks(page, "data-key=\"lost\"");
}
END_TEST

START_TEST(lost_samples_and_cpu_clock)
{
    rp_profile_t *p = three_to_one_profile();
    p->stats.dropped = 7;
    p->truncated_stacks = 2;
    p->stats.clock = RP_CLOCK_CPU;
    const char *page = render(p);
    assert_contains(page, "data-key=\"lost\"");
    assert_contains(page,
                    "7 samples dropped (buffer full), 2 stacks truncated");
    assert_contains(page, "cpu (on-CPU time only)");
}
END_TEST

START_TEST(waiting_time)
{
    /* main -> handler (3 on CPU) and main -> leaf (2 waiting, 1 on CPU). */
    rp_profile_t *p = base_profile();
    const rp_func_t *busy[] = {&f_main, &f_handler};
    const rp_func_t *waits[] = {&f_main, &f_leaf};
    rp_tree_add(p->tree, busy, 2, 3, 0);
    rp_tree_add(p->tree, waits, 2, 2, 1);
    rp_tree_add(p->tree, waits, 2, 1, 0);
    rp_tree_sort(p->tree);
    p->stats.samples = 3;
    p->stats.weight = 6;
    p->stats.wait_weight = 2;
    const char *page = render(p);
    const char *m = node_markup(page, "main");
    const char *l = node_markup(page, "leaf");
    const char *h = node_markup(page, "handler&lt;b&gt;x&lt;/b&gt;");
    assert_contains(m, "data-wait-weight=\"2\"");
    assert_contains(l, "data-wait-weight=\"2\"");
    assert_contains(h, "data-wait-weight=\"0\"");
    assert_contains(m, "cpu 4.000 ms, waiting 2.000 ms");
    assert_contains(l, "cpu 1.000 ms, waiting 2.000 ms");
    assert_lacks(h, "waiting");
    /* The summary splits the whole request the same way. */
    assert_contains(page, "<td>4.000 ms / 2.000 ms</td>");
}
END_TEST

START_TEST(sampling_row)
{
    rp_profile_t *p = three_to_one_profile();
    p->stats.proc_readable = 1;
    p->stats.signals = 11;
    p->stats.wait_signals = 4;
    p->stats.interrupted_waits = 2;
    p->stats.broken_waits = 1;
    p->stats.remote_unwinds = 5;
    p->stats.late_intervals = 3;
    p->stats.sampler_cpu_ns = 1500000;
    const char *page = render(p);
    assert_contains(page, "data-key=\"sampling\"");
    assert_contains(page, "11 signals (4 to waiting threads), 1 broken calls "
                          "restarted, 1 broken for good");
    assert_contains(page, "5 stacks unwound without a signal");
    assert_contains(page, "3 late intervals");
    assert_contains(page, "1.500 ms");
    assert_contains(page, "waits read from /proc");
    p->stats.proc_readable = 0;
    page = render(p);
    assert_contains(page, "not dumpable");
}
END_TEST

START_TEST(self_contained)
{
    const char *page = render(three_to_one_profile());
    assert_lacks(page, "http://");
    assert_lacks(page, "https://");
    assert_lacks(page, "src=");
    assert_lacks(page, "href=");
    assert_lacks(page, "@import");
    assert_lacks(page, "url(");
    assert_lacks(page, "<link");
}
END_TEST

START_TEST(empty_tree_note)
{
    rp_profile_t *p = base_profile();
    p->stats.samples = 0;
    p->stats.weight = 0;
    const char *page = render(p);
    ck_assert_int_eq(strncmp(page, "<!DOCTYPE html>", 15), 0);
    assert_contains(page, "id=\"rp-empty\"");
    assert_lacks(page, "data-func=");
    assert_lacks(page, "class=\"rp-tree\"");
    assert_contains(page, "<td>404</td>");
    assert_contains(page, escaped_uri);
}
END_TEST

START_TEST(missing_request_fields)
{
    /* A request without a host, protocol or server string renders too. */
    rp_profile_t *p = three_to_one_profile();
    p->host = NULL;
    p->protocol = NULL;
    p->server = NULL;
    p->mpm = NULL;
    p->method = NULL;
    const char *page = render(p);
    assert_contains(page, "<tr data-key=\"host\"><th>Host</th><td></td></tr>");
    assert_contains(page, "data-func=\"main\"");
}
END_TEST

START_TEST(large_tree)
{
    /* Far more output than the initial buffer, yet few enough nodes for
     * the markup to hold them all: a 120-node chain plus a wide level. */
    enum { DEPTH = 120, WIDE = 600 };
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
    rp_tree_add(p->tree, frames, DEPTH, 5000, 0);
    for (unsigned i = 0; i < WIDE; i++) {
        snprintf(names[DEPTH + i], sizeof(names[0]), "wide%u", i);
        wide[i].name = names[DEPTH + i];
        wide[i].object = "o";
        frames[1] = &wide[i];
        rp_tree_add(p->tree, frames, 2, 1, 0);
    }
    rp_tree_sort(p->tree);
    const char *page = render(p);
    ck_assert_uint_eq(occurrences(page, "<li "), DEPTH + WIDE);
    ck_assert_uint_eq(occurrences(page, "<details open>"), DEPTH - 1);
    assert_contains(page, "data-func=\"wide599\"");
    assert_contains(page, "data-func=\"chain119\"");
    assert_lacks(page, "class=\"rp-pruned\"");
    ck_assert_str_eq(page + strlen(page) - strlen("</html>\n"), "</html>\n");
}
END_TEST

START_TEST(huge_tree_is_pruned_in_the_markup)
{
    /* 1500 one-interval callees next to a heavy chain: the markup keeps
     * the heaviest nodes (the chain) and sums the rest up per caller; the
     * embedded data still holds every node. */
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
    rp_tree_add(p->tree, frames, DEPTH, 5000, 0);
    for (unsigned i = 0; i < WIDE; i++) {
        snprintf(names[DEPTH + i], sizeof(names[0]), "wide%u", i);
        wide[i].name = names[DEPTH + i];
        wide[i].object = "o";
        frames[1] = &wide[i];
        rp_tree_add(p->tree, frames, 2, 1, 0);
    }
    rp_tree_sort(p->tree);
    const char *page = render(p);
    ck_assert_uint_eq(occurrences(page, "<li class=\"rp-node"), DEPTH);
    ck_assert_uint_eq(occurrences(page, "<li "), occurrences(page, "</li>"));
    assert_contains(page, "data-func=\"chain119\"");
    assert_lacks(page, "data-func=\"wide0\"");
    assert_contains(page, "<li class=\"rp-pruned\"><div class=\"rp-row\">1500 "
                          "lighter callees, 1500.000 ms in all");
    /* Every frame is in the data block. */
    assert_contains(page, "[\"wide1499\",");
    assert_contains(page, "[\"chain119\",");
}
END_TEST

/* The text of the embedded data block. */
static const char *data_block(const char *page)
{
    static const char open[] =
        "<script type=\"application/json\" id=\"rp-data\">";
    const char *start = strstr(page, open);
    ck_assert_ptr_nonnull(start);
    start += strlen(open);
    const char *end = strstr(start, "</script>");
    ck_assert_ptr_nonnull(end);
    return apr_pstrndup(pool, start, (apr_size_t)(end - start));
}

START_TEST(embedded_data_cannot_close_its_script)
{
    static const char evil[] = "</script><script>alert(1)</script>";
    static const rp_func_t f_evil = {.name = "fn</script><script>alert(1)"
                                             "</script>",
                                     .object = "lib</SCRIPT>&<!--.so",
                                     .file = "src/</script>.c",
                                     .line = 3,
                                     .resolved = 1};
    static const rp_object_module_t modules[] = {
        {.object = "mod_</script>.so", .module = "x</script>_module"}};
    static const char *const collapse[] = {"</script>*"};
    rp_profile_t *p = base_profile();
    p->uri = apr_pstrcat(pool, "/a?x=", evil, NULL);
    p->method = evil;
    p->host = evil;
    p->modules = modules;
    p->module_count = 1;
    p->collapse = collapse;
    p->collapse_count = 1;
    const rp_func_t *stack[] = {&f_main, &f_evil};
    rp_tree_add(p->tree, stack, 2, 2, 0);
    rp_tree_sort(p->tree);
    const char *page = render(p);
    const char *data = data_block(page);
    /* No markup character at all inside the block, in any case. */
    ck_assert_ptr_null(strchr(data, '<'));
    ck_assert_ptr_null(strchr(data, '>'));
    ck_assert_ptr_null(strchr(data, '&'));
    assert_contains(data, "\"fn\\u003c/script\\u003e\\u003cscript\\u003e"
                          "alert(1)\\u003c/script\\u003e\"");
    assert_contains(data, "\"lib\\u003c/SCRIPT\\u003e\\u0026\\u003c!--.so\"");
    assert_contains(data, "\"src/\\u003c/script\\u003e.c\"");
    assert_contains(data, "[\"mod_\\u003c/script\\u003e.so\","
                          "\"x\\u003c/script\\u003e_module\"]");
    assert_contains(data, "\"collapse\":[\"\\u003c/script\\u003e*\"]");
    /* The page as a whole: the only script ends are the two real ones, and
     * the hostile text is escaped wherever it is markup. */
    ck_assert_uint_eq(occurrences(page, "</script>"), 2);
    assert_lacks(page, "<script>alert");
    assert_lacks(page, "</SCRIPT>");
    assert_contains(page, "data-func=\"fn&lt;/script&gt;&lt;script&gt;alert(1)"
                          "&lt;/script&gt;\"");
}
END_TEST

START_TEST(embedded_data_content)
{
    /* Two samples with their records: main -> handler (on CPU, in the
     * handler phase) and main -> leaf (waiting, 2 intervals, in
     * access_checker); sampling began 250 us after the request. */
    static const rp_object_module_t modules[] = {
        {.object = "mod_\"evil\".so", .module = "evil_module"}};
    static const char *const collapse[] = {"libc.so*", "[vdso]"};
    rp_profile_t *p = base_profile();
    rp_profile_clear_phases(p);
    p->phases[RP_PHASE_HANDLER].first_us = 300;
    p->phases[RP_PHASE_HANDLER].total_us = 4000;
    p->request_started = p->started - 250;
    p->modules = modules;
    p->module_count = 1;
    p->collapse = collapse;
    p->collapse_count = 2;
    const rp_func_t *busy[] = {&f_main, &f_handler};
    const rp_func_t *waits[] = {&f_main, &f_leaf};
    rp_stack_t samples[2] = {{.frames = busy,
                              .depth = 2,
                              .t_ns = 1000000,
                              .weight = 1,
                              .phase = RP_PHASE_HANDLER,
                              .syscall = -1},
                             {.frames = waits,
                              .depth = 2,
                              .t_ns = 3500000,
                              .weight = 2,
                              .waiting = 1,
                              .phase = RP_PHASE_ACCESS_CHECKER,
                              .syscall = 7}};
    rp_profile_add_stack(p, &samples[0]);
    rp_profile_add_stack(p, &samples[1]);
    rp_profile_end(p);
    const char *data = data_block(render(p));
    assert_contains(data, "{\"v\":1,\"clock\":\"wall\",\"interval_us\":1000,"
                          "\"t0_us\":250,\"weight\":3,");
    assert_contains(data, "\"phases\":[\"other\",\"post_read_request\",");
    assert_contains(data, ",\"handler\"]");
    /* Phases that did not run are null; the handler's span is kept. */
    assert_contains(data, "\"spans\":[null,null,");
    assert_contains(data, ",[300,4000]]");
    /* Frames in depth-first order of the sorted tree (leaf, 2 intervals,
     * before the handler, 1), objects and files numbered by first use. */
    assert_contains(data,
                    "\"frames\":[\n[\"main\",0,0,10],\n[\"leaf\",1,-1,0],"
                    "\n[\"handler\\u003cb\\u003ex\\u003c/b\\u003e\",2,1,77]]");
    assert_contains(data, "\"objects\":[\"httpd\",\"libc.so.6\","
                          "\"mod_\\\"evil\\\".so\"]");
    assert_contains(data, "\"files\":[\"main.c\",\"h\\u0026c.c\"]");
    /* Root, main, then its children: leaf (node 2) and handler (3). */
    assert_contains(data, "\"nodes\":[-1,-1,0,0,1,1,1,2]");
    /* dt since the previous sample in us, node, weight*32+phase*2+waiting:
     * 1*32+10*2+0 = 52 and 2*32+5*2+1 = 75. */
    assert_contains(data, "\"samples\":[1000,3,52,2500,2,75]");
    assert_contains(data, "\"collapse\":[\"libc.so*\",\"[vdso]\"]");
    assert_contains(data, "\"modules\":[[\"mod_\\\"evil\\\".so\","
                          "\"evil_module\"]],");
    /* Objects whose frames fold, by number: libc.so.6 (rp_collapse). */
    assert_contains(data, "\"folded\":[1]}");
}
END_TEST

START_TEST(view_containers)
{
    const char *page = render(three_to_one_profile());
    /* The script's controls start hidden (without script the page is the
     * call tree), and every view has its container. */
    assert_contains(page, "<div class=\"rp-app\" id=\"rp-app\" hidden>");
    static const char *const ids[] = {
        "rp-search",        "rp-search-count", "rp-phase-filter",
        "rp-show-all",      "rp-view-tree",    "rp-view-flame",
        "rp-view-timeline", "rp-view-modules", "rp-flame",
        "rp-flame-reset",   "rp-timeline",     "rp-modules",
        "rp-tip",           "rp-data",         "rp-collapse-note"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        assert_contains(page, apr_pstrcat(pool, "id=\"", ids[i], "\"", NULL));
        ck_assert_uint_eq(
            occurrences(page, apr_pstrcat(pool, "id=\"", ids[i], "\"", NULL)),
            1);
    }
    static const char *const tabs[] = {"tree", "flame", "timeline", "modules"};
    for (size_t i = 0; i < 4; i++) {
        assert_contains(
            page, apr_pstrcat(pool, "data-rp-tab=\"", tabs[i], "\"", NULL));
    }
    /* Only the call tree shows at first. */
    assert_contains(page,
                    "id=\"rp-view-flame\" data-rp-view=\"flame\" hidden>");
    assert_contains(page, "id=\"rp-view-tree\" data-rp-view=\"tree\"><h2>");
    /* The script and stylesheet are the embedded assets. */
    assert_contains(page, "JSON.parse($('rp-data').textContent)");
    assert_contains(page, ".rp-flame{");
}
END_TEST

/* main -> hot -> hot_leaf 5000 intervals (one waiting sample), and main ->
 * WIDE distinct callees of one interval each: more nodes than the data
 * holds. */
enum { WIDE_CALLEES = 31000 };
static rp_profile_t *wide_profile(void)
{
    static rp_func_t wide[WIDE_CALLEES];
    static char names[WIDE_CALLEES][16];
    static const rp_func_t f_hot = {.name = "hot", .object = "o"};
    static const rp_func_t f_hot_leaf = {.name = "hot_leaf", .object = "o"};
    rp_profile_t *p = base_profile();
    rp_profile_begin(p, pool);
    const rp_func_t *frames[3] = {&f_main, &f_hot, &f_hot_leaf};
    rp_stack_t s = {.frames = frames,
                    .depth = 3,
                    .weight = 5000,
                    .waiting = 1,
                    .phase = RP_PHASE_HANDLER,
                    .syscall = 7};
    rp_profile_add_stack(p, &s);
    for (unsigned i = 0; i < WIDE_CALLEES; i++) {
        snprintf(names[i], sizeof(names[i]), "wide%u", i);
        wide[i].name = names[i];
        wide[i].object = "o";
        frames[1] = &wide[i];
        rp_stack_t one = {.frames = frames,
                          .depth = 2,
                          .t_ns = (uint64_t)(i + 1) * 1000000u,
                          .weight = 1,
                          .phase = RP_PHASE_HANDLER,
                          .syscall = -1};
        rp_profile_add_stack(p, &one);
    }
    rp_profile_end(p);
    return p;
}

/* A big tree is reduced to its heaviest nodes and one merged node per
 * caller, with every total exact and every sample kept; a small one is
 * left as it is. */
START_TEST(big_tree_is_reduced_with_exact_totals)
{
    rp_reduction_t r;
    ck_assert_ptr_null(rp_profile_reduce(three_to_one_profile(), 4, pool, &r));
    rp_profile_t *p = wide_profile();
    const rp_profile_t *q = rp_profile_reduce(p, 30000, pool, &r);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(r.kept, 3);
    ck_assert_uint_eq(r.merged, WIDE_CALLEES);
    ck_assert_uint_eq(r.groups, 1);
    ck_assert_uint_eq(r.min_weight, 2);
    ck_assert_uint_eq(q->tree->node_count, 4);
    ck_assert_uint_eq(q->tree->root.total, 5000 + WIDE_CALLEES);
    ck_assert_uint_eq(q->tree->root.wait, 5000);
    const rp_node_t *main_node = q->tree->root.first_child;
    ck_assert_str_eq(main_node->func->name, "main");
    ck_assert_uint_eq(main_node->total, 5000 + WIDE_CALLEES);
    /* Heaviest first: the merged callees outweigh hot. */
    const rp_node_t *merged = main_node->first_child;
    ck_assert_str_eq(merged->func->name, RP_MERGED_FRAME);
    ck_assert_str_eq(merged->func->object, RP_MERGED_OBJECT);
    ck_assert_uint_eq(merged->total, WIDE_CALLEES);
    ck_assert_uint_eq(merged->self, WIDE_CALLEES);
    ck_assert_uint_eq(merged->wait, 0);
    ck_assert_ptr_null(merged->first_child);
    const rp_node_t *hot = merged->next_sibling;
    ck_assert_str_eq(hot->func->name, "hot");
    ck_assert_uint_eq(hot->wait, 5000);
    ck_assert_ptr_null(hot->next_sibling);
    ck_assert_str_eq(hot->first_child->func->name, "hot_leaf");
    /* Every sample kept, in the node that stands for its own. */
    ck_assert_uint_eq(q->sample_count, p->sample_count);
    ck_assert_ptr_eq(q->samples[0].leaf, hot->first_child);
    for (unsigned i = 1; i < q->sample_count; i++) {
        ck_assert_ptr_eq(q->samples[i].leaf, merged);
    }
    /* The profile itself is left as it was. */
    ck_assert_uint_eq(p->tree->node_count, 3 + WIDE_CALLEES);
    ck_assert_str_eq(p->samples[1].leaf->func->name, "wide0");
}
END_TEST

/* The report of a big tree says what its data merged; the data holds the
 * merged node, not the merged callees, and the exact weight. */
START_TEST(big_tree_report_states_the_rule)
{
    const char *page = render(wide_profile());
    assert_contains(page, "<p class=\"rp-note\" id=\"rp-merged\" "
                          "data-kept=\"3\" data-merged=\"31000\">");
    assert_contains(page, "The other 31000, each of at most 1.000 ms (0.00 %");
    const char *data = strstr(page, "id=\"rp-data\">");
    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_null(strstr(data, "\"wide0\""));
    assert_contains(data, "[\"" RP_MERGED_FRAME "\",");
    assert_contains(data, "\"weight\":36000,");
    /* The markup's tree sums the callees it leaves out as before. */
    assert_contains(page, "script's views show more of them");
    ck_assert_ptr_null(strstr(render(three_to_one_profile()), "rp-merged"));
}
END_TEST

Suite *html_suite(void)
{
    Suite *s = suite_create("rp_html");
    TCase *tc = tcase_create("render");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, document_shape);
    tcase_add_test(tc, request_text_is_escaped);
    tcase_add_test(tc, function_names_are_escaped);
    tcase_add_test(tc, percentages_and_times);
    tcase_add_test(tc, heaviest_path_is_open);
    tcase_add_test(tc, cold_subtree_is_closed);
    tcase_add_test(tc, summary_values);
    tcase_add_test(tc, lost_samples_and_cpu_clock);
    tcase_add_test(tc, waiting_time);
    tcase_add_test(tc, sampling_row);
    tcase_add_test(tc, self_contained);
    tcase_add_test(tc, empty_tree_note);
    tcase_add_test(tc, missing_request_fields);
    tcase_add_test(tc, large_tree);
    tcase_add_test(tc, huge_tree_is_pruned_in_the_markup);
    tcase_add_test(tc, big_tree_is_reduced_with_exact_totals);
    tcase_add_test(tc, big_tree_report_states_the_rule);
    tcase_add_test(tc, embedded_data_cannot_close_its_script);
    tcase_add_test(tc, embedded_data_content);
    tcase_add_test(tc, view_containers);
    suite_add_tcase(s, tc);
    return s;
}
