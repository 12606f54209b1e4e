/* rp_collapse: the one ReqProfileCollapse matcher (its syntax, its checks,
 * hostile input), and the rule applied: the text format's folded tree, the
 * report data's list of folded objects, the log records' functions. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <string.h>

#include "rp_collapse.h"
#include "rp_html.h"
#include "rp_record.h"
#include "rp_text.h"
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

/* ---- the syntax ------------------------------------------------------------
 */

/* The syntax as a table: '*' any run (none too), '?' one byte, every other
 * byte itself, brackets included. */
static const struct {
    const char *pattern;
    const char *text;
    int match;
} cases[] = {
    {"libc.so*", "libc.so.6", 1},
    {"libc.so*", "libc.so", 1},
    {"libc.so*", "xlibc.so.6", 0},
    {"libc.so*", "LIBC.so.6", 0},
    {"mod_mpm_*.so", "mod_mpm_event.so", 1},
    {"mod_mpm_*.so", "mod_mpm_.so", 1},
    {"mod_mpm_*.so", "mod_mpm_event.so.1", 0},
    {"apache2", "apache2", 1},
    {"apache2", "apache22", 0},
    {"apache2", "apache", 0},
    {"a?c", "abc", 1},
    {"a?c", "ac", 0},
    {"a?c", "abbc", 0},
    {"???", "abc", 1},
    {"?", "", 0},
    {"*", "", 1},
    {"*", "anything at all", 1},
    {"**", "x", 1},
    {"*a*b*", "xxaxxbxx", 1},
    {"*a*b*", "xxbxxaxx", 0},
    {"*.so.6", "libc.so.6", 1},
    {"*.so.6", "libc.so.60", 0},
    /* Brackets match themselves: no character classes. */
    {"[vdso]", "[vdso]", 1},
    {"[vdso]", "v", 0},
    {"[vdso]", "d", 0},
    {"[kernel]*", "[kernel]", 1},
    {"[kernel]*", "kernel", 0},
    {"[k]*", "kernel", 0},
    {"[k]*", "[k]ernel", 1},
    {"lib[ab].so", "liba.so", 0},
    {"lib[ab].so", "lib[ab].so", 1},
    {"lib[a-z]*", "libc.so.6", 0},
    {"lib[!x]*", "libc.so.6", 0},
    {"[*]", "[x]", 1},
    {"[*]", "[unknown]", 1},
    {"[*]", "[]", 1},
    {"[*]", "x", 0},
    {"[?]", "[x]", 1},
    {"[?]", "[xy]", 0},
    {"[", "[", 1},
    {"]", "]", 1},
    {"[*", "[waiting: stack not readable]", 1},
    {"*]", "[syscall poll]", 1},
    {"*]", "libc.so.6", 0},
    /* Other shell specials are plain bytes too. */
    {"{a,b}", "a", 0},
    {"{a,b}", "{a,b}", 1},
    {"a b", "a b", 1},
    /* The empty pattern matches only the empty name (and the check refuses
     * it in a configuration). */
    {"", "", 1},
    {"", "x", 0},
};

START_TEST(glob_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(rp_glob_match(cases[i].pattern, cases[i].text) ==
                          cases[i].match,
                      "'%s' against '%s': expected %d", cases[i].pattern,
                      cases[i].text, cases[i].match);
    }
}
END_TEST

/* Backtracking that grows with the number of stars would take forever
 * here; the matcher stays within pattern times text. */
START_TEST(glob_hostile_input)
{
    size_t n = 1 << 16;
    char *text = apr_palloc(pool, n + 1);
    memset(text, 'a', n);
    text[n] = '\0';
    ck_assert(!rp_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
    ck_assert(rp_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", text));
    char pattern[RP_COLLAPSE_MAX_PATTERN + 1];
    for (size_t i = 0; i < RP_COLLAPSE_MAX_PATTERN; i++) {
        pattern[i] = i % 2 ? '*' : 'a';
    }
    pattern[RP_COLLAPSE_MAX_PATTERN - 1] = 'b';
    pattern[RP_COLLAPSE_MAX_PATTERN] = '\0';
    ck_assert_ptr_null(rp_collapse_check(pattern));
    ck_assert(!rp_glob_match(pattern, text));
    text[n - 1] = 'b';
    ck_assert(rp_glob_match(pattern, text));
    memset(pattern, '?', RP_COLLAPSE_MAX_PATTERN);
    ck_assert(!rp_glob_match(pattern, text));
    ck_assert(rp_glob_match(pattern, text + n - RP_COLLAPSE_MAX_PATTERN));
    /* High bytes and invalid UTF-8 are bytes like any other. */
    ck_assert(rp_glob_match("lib\xc3\xa9?\xff*", "lib\xc3\xa9x\xff.so"));
    ck_assert(rp_glob_match("lib?.so", "lib\xff.so"));
    ck_assert(!rp_glob_match("lib?.so", "lib\xc3\xa9.so"));
}
END_TEST

START_TEST(check_refuses_unusable_patterns)
{
    static const char *const good[] = {"libc.so*",   "[vdso]", "[kernel]*",
                                       "*",          "?",      "mod_mpm_*.so",
                                       "lib[ab].so", "a b",    "lib\xc3\xa9.so",
                                       "none-such"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(rp_collapse_check(good[i]) == NULL, "refused '%s'",
                      good[i]);
    }
    static const struct {
        const char *pattern;
        const char *why;
    } bad[] = {{"", "empty"},
               {"/usr/lib/libc.so.6", "'/'"},
               {"lib/*", "'/'"},
               {"\\[vdso\\]", "no escapes"},
               {"lib\tc", "control character"},
               {"lib\x7f", "control character"},
               {"a\nb", "control character"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = rp_collapse_check(bad[i].pattern);
        ck_assert_msg(why != NULL && strstr(why, bad[i].why) != NULL,
                      "'%s': %s", bad[i].pattern, why ? why : "(accepted)");
    }
    char longest[RP_COLLAPSE_MAX_PATTERN + 2];
    memset(longest, 'x', sizeof(longest) - 1);
    longest[RP_COLLAPSE_MAX_PATTERN] = '\0';
    ck_assert_ptr_null(rp_collapse_check(longest));
    longest[RP_COLLAPSE_MAX_PATTERN] = 'x';
    longest[RP_COLLAPSE_MAX_PATTERN + 1] = '\0';
    ck_assert_ptr_nonnull(strstr(rp_collapse_check(longest), "128"));
}
END_TEST

START_TEST(default_rule_folds_libraries)
{
    static const char *const folded[] = {"libc.so.6",
                                         "libpthread.so.0",
                                         "ld-linux-x86-64.so.2",
                                         "[vdso]",
                                         "libapr-1.so.0",
                                         "libaprutil-1.so.0",
                                         "apache2",
                                         "httpd",
                                         "mod_mpm_event.so",
                                         "mod_mpm_worker.so",
                                         "mod_mpm_prefork.so",
                                         "libphp8.2.so",
                                         "libphp.so",
                                         "liblua5.3.so.0.0.0",
                                         "liblua5.4.so.0"};
    static const char *const kept[] = {
        "mod_rpwork.so",  "[php]",      "[lua]",
        "mod_proxy.so",   "[kernel]",   "[unknown]",
        "libcrypto.so.3", "xlibc.so.6", "[vdso]x",
        "apache2.so",     "",           NULL};
    for (size_t i = 0; i < sizeof(folded) / sizeof(folded[0]); i++) {
        ck_assert_msg(rp_collapse_folds(rp_collapse_default,
                                        rp_collapse_default_count, folded[i]),
                      "%s not folded", folded[i]);
    }
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        ck_assert_msg(!rp_collapse_folds(rp_collapse_default,
                                         rp_collapse_default_count, kept[i]),
                      "%s folded", kept[i] ? kept[i] : "(none)");
    }
    /* "none": no pattern, nothing folds. */
    ck_assert(!rp_collapse_folds(NULL, 0, "libc.so.6"));
    /* A frame of no object is matched as "". */
    static const char *const star[] = {"*"};
    ck_assert(rp_collapse_folds(star, 1, NULL));
}
END_TEST

/* ---- the rule applied -------------------------------------------------------
 */

static const rp_func_t f_clone = {.name = "__clone3", .object = "libc.so.6"};
static const rp_func_t f_worker = {.name = "worker",
                                   .object = "mod_mpm_event.so"};
static const rp_func_t f_run = {.name = "ap_run_handler", .object = "apache2"};
static const rp_func_t f_filter = {.name = "ap_pass_brigade",
                                   .object = "apache2"};
static const rp_func_t f_handler = {
    .name = "handler", .object = "mod_x.so", .file = "x.c", .line = 7};
static const rp_func_t f_work = {.name = "work", .object = "mod_x.so"};
static const rp_func_t f_memcpy = {.name = "memcpy", .object = "libc.so.6"};
static const rp_func_t f_palloc = {.name = "apr_palloc",
                                   .object = "libapr-1.so.0"};
static const rp_func_t f_poll = {.name = "[syscall poll]",
                                 .object = "[kernel]"};
static const rp_func_t f_hostile = {.name = "evil", .object = "lib\x1b[31m.so"};

static const char *const default_like[] = {"libc.so*", "libapr-1.so*",
                                           "apache2", "mod_mpm_*.so"};

/* Thread start, MPM and request loop above the handler:
 *   .. handler > memcpy                    4 on CPU
 *   .. handler > work > poll [kernel]      2 waiting
 *   .. ap_run_handler > ap_pass_brigade > handler > apr_palloc  1
 *   .. ap_run_handler (own time)           1 */
static rp_profile_t *library_profile(void)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    p->method = "GET";
    p->uri = "/x";
    p->protocol = "HTTP/1.1";
    p->host = "example.test";
    p->status = 200;
    p->mpm = "event";
    p->request_started = apr_time_from_sec(1700000000);
    p->started = p->request_started + 1000;
    p->stats.interval_us = 1000;
    p->stats.clock = RP_CLOCK_WALL;
    p->tree = rp_tree_create(pool);
    p->collapse = default_like;
    p->collapse_count = 4;
    /* One sample per stack, through the profile builder. */
    const rp_func_t *a[] = {&f_clone, &f_worker, &f_run, &f_handler, &f_memcpy};
    const rp_func_t *b[] = {&f_clone,   &f_worker, &f_run,
                            &f_handler, &f_work,   &f_poll};
    const rp_func_t *c[] = {&f_clone,  &f_worker,  &f_run,
                            &f_filter, &f_handler, &f_palloc};
    const rp_func_t *d[] = {&f_clone, &f_worker, &f_run};
    rp_stack_t stacks[] = {
        {.frames = a, .depth = 5, .weight = 4, .syscall = -1},
        {.frames = b, .depth = 6, .weight = 2, .waiting = 1, .syscall = 7},
        {.frames = c, .depth = 6, .weight = 1, .syscall = -1},
        {.frames = d, .depth = 3, .weight = 1, .syscall = -1}};
    uint64_t t_ns = 0;
    for (unsigned i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) {
        stacks[i].t_ns = t_ns;
        stacks[i].phase = RP_PHASE_HANDLER;
        t_ns += stacks[i].weight * 1000000u;
        rp_profile_add_stack(p, &stacks[i]);
    }
    rp_profile_end(p); /* 4 samples, 8 intervals, 2 waiting */
    return p;
}

static const char *text_of(const char *(*render)(const rp_profile_t *,
                                                 apr_pool_t *, apr_size_t *),
                           const rp_profile_t *p)
{
    apr_size_t len = 0;
    const char *t = render(p, pool, &len);
    ck_assert_uint_eq(len, strlen(t));
    return t;
}

/* The tree part: from the line after "Call tree". */
static const char *tree_of(const char *t)
{
    const char *at = strstr(t, "\n\nCall tree");
    ck_assert_ptr_nonnull(at);
    return strchr(at + 2, '\n') + 1;
}

START_TEST(text_folds_library_frames)
{
    const char *t = text_of(rp_text_render, library_profile());
    /* As the report's default view: the handler's two paths merge, the
     * library frames count in their callers (which name them), the frames
     * with no caller to fold into are one row under the root. */
    ck_assert_str_eq(
        tree_of(t),
        "7.000 ms  87.5%  handler  mod_x.so  x.c:7  "
        "[cpu 5.000 ms, waiting 2.000 ms]  +libc.so.6, libapr-1.so.0\n"
        "\xe2\x94\x94\xe2\x94\x80 2.000 ms  25.0%  work  mod_x.so  "
        "[cpu 0.000 ms, waiting 2.000 ms]\n"
        "   \xe2\x94\x94\xe2\x94\x80 2.000 ms  25.0%  [syscall poll]  "
        "[kernel]  [cpu 0.000 ms, waiting 2.000 ms]\n"
        "1.000 ms  12.5%  [folded frames only]  libc.so.6, "
        "mod_mpm_event.so, apache2\n");
    ck_assert_ptr_nonnull(
        strstr(t, "\nFolded:   libc.so.6, mod_mpm_event.so, apache2, "
                  "libapr-1.so.0 into their callers (ReqProfileCollapse; "
                  "frames=all shows every frame)\n\nCall tree"));
}
END_TEST

START_TEST(text_all_frames_is_the_unfolded_tree)
{
    rp_profile_t *p = library_profile();
    const char *all = text_of(rp_text_render_all_frames, p);
    /* Every frame, no "Folded:" line: exactly what a profile without
     * patterns (ReqProfileCollapse none) renders. */
    ck_assert_ptr_null(strstr(all, "Folded:"));
    ck_assert_ptr_null(strstr(all, "folded frames only"));
    ck_assert_ptr_nonnull(
        strstr(all, "\n8.000 ms 100.0%  __clone3  libc.so.6  [cpu 6.000 ms, "
                    "waiting 2.000 ms]\n\xe2\x94\x94\xe2\x94\x80 8.000 ms "
                    "100.0%  worker  mod_mpm_event.so  [cpu 6.000 ms, "
                    "waiting 2.000 ms]\n"));
    ck_assert_ptr_nonnull(strstr(all, "memcpy  libc.so.6\n"));
    ck_assert_ptr_nonnull(strstr(all, "ap_pass_brigade  apache2\n"));
    p->collapse_count = 0;
    ck_assert_str_eq(text_of(rp_text_render, p), all);
    ck_assert_str_eq(text_of(rp_text_render_all_frames, p), all);
    /* Patterns that match nothing present fold nothing either. */
    static const char *const elsewhere[] = {"libssl.so*", "[vdso]"};
    p->collapse = elsewhere;
    p->collapse_count = 2;
    ck_assert_str_eq(text_of(rp_text_render, p), all);
}
END_TEST

START_TEST(text_folding_uses_the_one_syntax)
{
    rp_profile_t *p = library_profile();
    /* "[kernel]*" names the kernel's frames (brackets are themselves);
     * "mod_[x].so" is no character class: it names no object here. */
    static const char *const patterns[] = {"[kernel]*", "mod_[x].so"};
    p->collapse = patterns;
    p->collapse_count = 2;
    const char *t = text_of(rp_text_render, p);
    ck_assert_ptr_nonnull(strstr(
        t, "\nFolded:   [kernel] into their callers (ReqProfileCollapse; "));
    ck_assert_ptr_nonnull(strstr(t, "  work  mod_x.so  [cpu 0.000 ms, waiting "
                                    "2.000 ms]  +[kernel]\n"));
    ck_assert_ptr_null(strstr(t, "[syscall poll]"));
    ck_assert_ptr_nonnull(strstr(t, "  handler  mod_x.so  x.c:7  "));
}
END_TEST

START_TEST(text_folded_names_are_escaped)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    *p = *library_profile();
    p->tree = rp_tree_create(pool);
    const rp_func_t *s[] = {&f_handler, &f_hostile};
    const rp_func_t *only[] = {&f_hostile};
    rp_tree_add(p->tree, s, 2, 3, 0);
    rp_tree_add(p->tree, only, 1, 1, 0);
    rp_tree_sort(p->tree);
    static const char *const patterns[] = {"lib?[31m.so"};
    p->collapse = patterns;
    p->collapse_count = 1;
    const char *t = text_of(rp_text_render, p);
    ck_assert_ptr_null(strchr(t, '\x1b'));
    ck_assert_ptr_nonnull(strstr(t, "  +lib"));
    ck_assert_ptr_nonnull(strstr(t, "[folded frames only]  lib"));
    ck_assert_ptr_nonnull(strstr(t, "\nFolded:   lib"));
}
END_TEST

/* The report's script folds the objects the data lists, by number; the
 * list comes from the same matcher. */
START_TEST(report_data_lists_folded_objects)
{
    rp_profile_t *p = library_profile();
    static const char *const patterns[] = {"[kernel]*", "mod_[x].so",
                                           "libapr-1.so*"};
    p->collapse = patterns;
    p->collapse_count = 3;
    apr_size_t len;
    const char *page = rp_html_render(p, pool, &len);
    /* Objects by first frame in the sorted tree: libc.so.6 0,
     * mod_mpm_event.so 1, apache2 2, mod_x.so 3, [kernel] 4,
     * libapr-1.so.0 5. */
    ck_assert_ptr_nonnull(
        strstr(page, "\"objects\":[\"libc.so.6\",\"mod_mpm_event.so\","
                     "\"apache2\",\"mod_x.so\",\"[kernel]\","
                     "\"libapr-1.so.0\"]"));
    ck_assert_ptr_nonnull(strstr(page, ",\n\"folded\":[4,5]}"));
    p->collapse_count = 0;
    page = rp_html_render(p, pool, &len);
    ck_assert_ptr_nonnull(strstr(page, ",\n\"folded\":[]}"));
}
END_TEST

/* Log records' functions fold by the same rule: self time lands in the
 * module's code that called the library. */
START_TEST(record_functions_use_the_one_syntax)
{
    rp_profile_t *p = library_profile();
    static const char *const patterns[] = {"libc.so*", "[kernel]*",
                                           "mod_[x].so"};
    p->collapse = patterns;
    p->collapse_count = 3;
    rp_func_stat_t *s;
    unsigned n = rp_fold_funcs(p, pool, &s);
    int saw_work = 0, saw_handler = 0;
    for (unsigned i = 0; i < n; i++) {
        ck_assert_str_ne(s[i].name, "memcpy");
        ck_assert_str_ne(s[i].name, "[syscall poll]");
        if (strcmp(s[i].name, "work") == 0) {
            ck_assert_uint_eq(s[i].self, 2); /* the poll folded in */
            saw_work = 1;
        }
        if (strcmp(s[i].name, "handler") == 0) {
            ck_assert_uint_eq(s[i].self, 4); /* memcpy folded in */
            saw_handler = 1;
        }
    }
    ck_assert(saw_work && saw_handler);
}
END_TEST

Suite *collapse_suite(void)
{
    Suite *s = suite_create("rp_collapse");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, glob_table);
    tcase_add_test(tc, glob_hostile_input);
    tcase_add_test(tc, check_refuses_unusable_patterns);
    tcase_add_test(tc, default_rule_folds_libraries);
    tcase_add_test(tc, text_folds_library_frames);
    tcase_add_test(tc, text_all_frames_is_the_unfolded_tree);
    tcase_add_test(tc, text_folding_uses_the_one_syntax);
    tcase_add_test(tc, text_folded_names_are_escaped);
    tcase_add_test(tc, report_data_lists_folded_objects);
    tcase_add_test(tc, record_functions_use_the_one_syntax);
    suite_add_tcase(s, tc);
    return s;
}
