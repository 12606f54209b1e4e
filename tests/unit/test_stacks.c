/* rp_stacks: a profile's stacks as text, and sums of many. */
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <check.h>
#include <string.h>

#include "rp_collapsed.h"
#include "rp_format.h"
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

/* rp_collapsed never writes empty brackets (an object without a name is
 * left out): a frame ending in " []" is all name, and writes back the
 * same, however often it is read and written. */
START_TEST(empty_brackets_are_part_of_the_name)
{
    const char *text = "b [] [];c [] 3 0\n";
    for (int round = 0; round < 2; round++) {
        rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
        ck_assert_uint_eq(rp_stacks_sum_add(sum, text, strlen(text)), 0);
        rp_profile_t m = {0};
        rp_stacks_sum_profile(sum, &m);
        const rp_node_t *top = m.tree->root.first_child;
        ck_assert_str_eq(top->func->name, "b [] []");
        ck_assert_str_eq(top->func->object, "");
        ck_assert_str_eq(top->first_child->func->name, "c []");
        text = render(&m);
        ck_assert_str_eq(text, "b [] [];c [] 3 0\n");
    }
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

/* ---- round trips and sums of many stacks --------------------------------- */

/* A deterministic pseudo-random sequence (xorshift), so failures repeat. */
static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* Functions each with a name of their own (so siblings never tie by name),
 * over a few objects, one of them already bracketed. */
#define FUNCS 40
static rp_func_t *random_funcs(void)
{
    static const char *const objects[] = {"httpd", "mod_app.so", "libc.so.6",
                                          "[kernel]"};
    rp_func_t *f = apr_pcalloc(pool, sizeof(*f) * FUNCS);
    for (int i = 0; i < FUNCS; i++) {
        f[i].name = apr_psprintf(pool, "fn_%02d", i);
        f[i].object = objects[i % 4];
        f[i].resolved = 1;
    }
    return f;
}

/* stacks random stacks of depth 1..60 (some empty), each on CPU or
 * waiting. */
static rp_profile_t *random_profile(const rp_func_t *funcs, unsigned stacks,
                                    apr_interval_time_t interval)
{
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    rp_profile_begin(p, pool);
    const rp_func_t *frames[60];
    for (unsigned i = 0; i < stacks; i++) {
        unsigned depth = rnd(20) == 0 ? 0 : 1 + rnd(60);
        for (unsigned d = 0; d < depth; d++) {
            /* Few callers near the root, so stacks share prefixes. */
            frames[d] = &funcs[d < 3 ? d : rnd(FUNCS)];
        }
        add(p, frames, depth, 1 + rnd(50), rnd(3) == 0);
    }
    rp_profile_end(p);
    p->stats.interval_us = interval;
    return p;
}

static rp_profile_t *sum_of(const char *const *texts, int n)
{
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    for (int i = 0; i < n; i++) {
        ck_assert_uint_eq(rp_stacks_sum_add(sum, texts[i], strlen(texts[i])),
                          0);
    }
    ck_assert_uint_eq(rp_stacks_sum_profiles(sum), n);
    rp_profile_t *m = apr_pcalloc(pool, sizeof(*m));
    rp_stacks_sum_profile(sum, m);
    return m;
}

/* stack -> "cpu wait" summed over the lines of text. */
static void tally(apr_hash_t *into, const char *text)
{
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        const char *wait_at = nl;
        while (*--wait_at != ' ') {
        }
        const char *cpu_at = wait_at;
        while (*--cpu_at != ' ') {
        }
        char *stack = apr_pstrmemdup(pool, line, (apr_size_t)(cpu_at - line));
        apr_uint64_t *t = apr_hash_get(into, stack, APR_HASH_KEY_STRING);
        if (t == NULL) {
            t = apr_pcalloc(pool, 2 * sizeof(*t));
            apr_hash_set(into, stack, APR_HASH_KEY_STRING, t);
        }
        t[0] += apr_strtoi64(cpu_at + 1, NULL, 10);
        t[1] += apr_strtoi64(wait_at + 1, NULL, 10);
        line = nl + 1;
    }
}

static int tallies_equal(apr_hash_t *a, apr_hash_t *b)
{
    if (apr_hash_count(a) != apr_hash_count(b)) {
        return 0;
    }
    for (apr_hash_index_t *hi = apr_hash_first(pool, a); hi;
         hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        apr_hash_this(hi, &key, NULL, &val);
        const apr_uint64_t *x = val;
        const apr_uint64_t *y = apr_hash_get(b, key, APR_HASH_KEY_STRING);
        if (y == NULL || x[0] != y[0] || x[1] != y[1]) {
            return 0;
        }
    }
    return 1;
}

/* render, sum of one, render: the same text, line for line and in the
 * same order (both trees are sorted alike). */
START_TEST(round_trip_of_a_random_profile)
{
    rng_state = 0x9e3779b97f4a7c15ULL;
    rp_func_t *funcs = random_funcs();
    rp_profile_t *p = random_profile(funcs, 400, 250);
    const char *once = render(p);
    const char *texts[] = {once};
    const char *again = render(sum_of(texts, 1));
    ck_assert_str_eq(again, once);
}
END_TEST

START_TEST(a_sum_is_the_sum_per_stack)
{
    rng_state = 12345;
    rp_func_t *funcs = random_funcs();
    const char *texts[3];
    apr_hash_t *expected = apr_hash_make(pool);
    for (int i = 0; i < 3; i++) {
        texts[i] = render(random_profile(funcs, 200, i == 1 ? 1000 : 97));
        tally(expected, texts[i]);
    }
    rp_profile_t *m = sum_of(texts, 3);
    apr_hash_t *got = apr_hash_make(pool);
    tally(got, render(m));
    ck_assert(tallies_equal(got, expected));
    /* The tree's totals agree with the lines. */
    apr_uint64_t cpu = 0, wait = 0;
    for (apr_hash_index_t *hi = apr_hash_first(pool, expected); hi;
         hi = apr_hash_next(hi)) {
        const apr_uint64_t *t = apr_hash_this_val(hi);
        cpu += t[0];
        wait += t[1];
    }
    ck_assert_uint_eq(m->tree->root.total, cpu + wait);
    ck_assert_uint_eq(m->tree->root.wait, wait);
    ck_assert_uint_eq(m->stats.weight, cpu + wait);
    ck_assert_uint_eq(m->stats.wait_weight, wait);
    ck_assert_uint_eq(m->stats.cpu_ns, cpu * 1000);
    ck_assert_double_eq_tol(rp_profile_weight_ms(m, m->tree->root.total),
                            (double)(cpu + wait) / 1000.0, 1e-9);
}
END_TEST

/* Two sums of the same texts (each with its own hash seed) make the same
 * profile: the same lines and the same report. */
START_TEST(the_same_texts_give_the_same_output)
{
    rng_state = 777;
    rp_func_t *funcs = random_funcs();
    const char *texts[2] = {render(random_profile(funcs, 300, 1000)),
                            render(random_profile(funcs, 300, 1000))};
    rp_profile_t *a = sum_of(texts, 2), *b = sum_of(texts, 2);
    ck_assert_str_eq(render(a), render(b));
    a->method = b->method = "ROUTE";
    a->uri = b->uri = "GET /x";
    apr_size_t la, lb;
    const char *ha = rp_html_render(a, pool, &la);
    const char *hb = rp_html_render(b, pool, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(ha, hb, la) == 0);
}
END_TEST

/* One record per distinct frame text, shared by every stack through it;
 * the object comes back out of its brackets. */
START_TEST(frames_are_interned)
{
    static const char text[] = "main [httpd];a [x.so] 1 0\n"
                               "main [httpd];b [x.so];a [x.so] 2 0\n"
                               "other;a [x.so] 3 0\n"
                               "fn (x) [y] [lib z.so] 4 0\n";
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, text, sizeof(text) - 1), 0);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    const rp_func_t *a = NULL;
    int seen = 0;
    for (unsigned i = 0; i < m.sample_count; i++) {
        const rp_func_t *f = m.samples[i].leaf->func;
        if (strcmp(f->name, "a") == 0) {
            ck_assert(a == NULL || a == f);
            a = f;
            seen++;
        }
    }
    ck_assert_int_eq(seen, 3);
    ck_assert_str_eq(a->object, "x.so");
    const rp_node_t *other = NULL;
    for (const rp_node_t *n = m.tree->root.first_child; n;
         n = n->next_sibling) {
        if (strcmp(n->func->name, "other") == 0) {
            other = n;
        }
    }
    ck_assert_ptr_nonnull(other);
    ck_assert_str_eq(other->func->object, "");
    /* The object is the last bracket; the name keeps the rest. */
    const rp_node_t *heaviest = m.tree->root.first_child;
    ck_assert_str_eq(heaviest->func->name, "fn (x) [y]");
    ck_assert_str_eq(heaviest->func->object, "lib z.so");
    ck_assert_str_eq(render(&m), "fn (x) [y] [lib z.so] 4 0\n"
                                 "main [httpd];b [x.so];a [x.so] 2 0\n"
                                 "main [httpd];a [x.so] 1 0\n"
                                 "other;a [x.so] 3 0\n");
}
END_TEST

/* ---- hostile text ---------------------------------------------------------
 */

/* Frames a profile can never have written. */
START_TEST(frames_no_profile_writes_are_skipped)
{
    static const char text[] = "a;;b 1 0\n"              /* empty frame */
                               ";a 1 0\n"                /* empty outermost */
                               "a; 1 0\n"                /* empty leaf */
                               "a\x01 1 0\n"             /* C0 control */
                               "a\x7f 1 0\n"             /* DEL */
                               "a\xc2\x85 1 0\n"         /* C1 control */
                               "a\xff 1 0\n"             /* not UTF-8 */
                               "a\xe2\x82 1 0\n"         /* cut short */
                               "a\xed\xa0\x80 1 0\n"     /* a surrogate */
                               "ok 1 0\r\n"              /* CR */
                               "caf\xc3\xa9 [x] 1 2\n"   /* UTF-8: kept */
                               "two  words [x y] 3 4\n"; /* spaces: kept */
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, text, sizeof(text) - 1), 10);
    ck_assert_uint_eq(rp_stacks_sum_total_us(sum), 10);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    ck_assert_str_eq(render(&m), "two  words [x y] 3 4\ncaf\xc3\xa9 [x] 1 2\n");
}
END_TEST

/* Numbers: at most 15 digits, and no sum past RP_STACKS_MAX_US, so counts
 * never wrap and the summed profile stays small whatever the store
 * holds. */
START_TEST(absurd_times_are_bounded)
{
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    /* 10^15 - 1 us is over RP_STACKS_MAX_US: skipped. */
    static const char huge[] = "a [x] 999999999999999 0\n"
                               "a [x] 0 999999999999999\n";
    ck_assert_uint_eq(rp_stacks_sum_add(sum, huge, sizeof(huge) - 1), 2);
    /* A line just short of what a sum may hold, then 1 us more: every
     * further line is skipped. */
    apr_uint64_t most = RP_STACKS_MAX_US - 1;
    char *line = apr_psprintf(pool, "a [x] %" APR_UINT64_T_FMT " 0\n", most);
    rp_buf_t b;
    rp_buf_init(&b, pool, 4096);
    for (int i = 0; i < 100; i++) {
        rp_buf_puts(&b, line);
    }
    rp_buf_puts(&b, "b [x] 1 0\nc [x] 0 1\nd [x] 1 0\n");
    ck_assert_uint_eq(rp_stacks_sum_add(sum, b.data, b.len), 99 + 2);
    ck_assert_uint_eq(rp_stacks_sum_total_us(sum), RP_STACKS_MAX_US);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    ck_assert_uint_eq(m.tree->root.total, RP_STACKS_MAX_US);
    /* Weights past 2^32 - 1 are split over samples: boundedly many. */
    ck_assert_uint_le(m.sample_count, 1 + (RP_STACKS_MAX_US >> 32) + 1);
    ck_assert_str_eq(render(&m), apr_psprintf(pool, "%sb [x] 1 0\n", line));
}
END_TEST

/* The deepest stack a line may hold is taken, one more frame is not. */
START_TEST(depth_is_bounded)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 8 * RP_STACKS_MAX_DEPTH);
    for (int i = 0; i < RP_STACKS_MAX_DEPTH; i++) {
        rp_buf_printf(&b, "%sf%d [x]", i ? ";" : "", i % 10);
    }
    const char *deepest = apr_pstrcat(pool, b.data, " 1 0\n", NULL);
    const char *deeper = apr_pstrcat(pool, "g [x];", deepest, NULL);
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, deepest, strlen(deepest)), 0);
    ck_assert_uint_eq(rp_stacks_sum_add(sum, deeper, strlen(deeper)), 1);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    ck_assert_uint_eq(m.tree->max_depth, RP_STACKS_MAX_DEPTH);
    ck_assert_str_eq(render(&m), deepest);
}
END_TEST

/* Random bytes from the characters the format is made of: never a crash
 * or a read past the text (valgrind and ASan watch), and what is taken
 * renders as lines a sum takes again. */
START_TEST(random_text_is_survived)
{
    static const char alphabet[] = "ab [];;\n\n 0123456789\xc2\x85\xff";
    rng_state = 424242;
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    for (int i = 0; i < 3000; i++) {
        apr_size_t len = rnd(120);
        /* Not NUL-terminated, and any byte: NUL too. */
        char *text = apr_palloc(pool, len + 1);
        for (apr_size_t k = 0; k < len; k++) {
            text[k] = rnd(40) == 0 ? '\0' : alphabet[rnd(sizeof(alphabet) - 1)];
        }
        text[len] = ';';
        rp_stacks_sum_add(sum, text, len);
    }
    ck_assert_uint_le(rp_stacks_sum_total_us(sum), RP_STACKS_MAX_US);
    rp_profile_t m = {0};
    rp_stacks_sum_profile(sum, &m);
    const char *out = render(&m);
    rp_stacks_sum_t *again = rp_stacks_sum_create(pool);
    ck_assert_uint_eq(rp_stacks_sum_add(again, out, strlen(out)), 0);
    ck_assert_uint_eq(rp_stacks_sum_total_us(again),
                      rp_stacks_sum_total_us(sum));
}
END_TEST

/* A sum in every format the module serves, including an empty sum. */
START_TEST(every_format_renders_a_sum)
{
    rng_state = 99;
    rp_func_t *funcs = random_funcs();
    const char *texts[] = {render(random_profile(funcs, 100, 1000)),
                           "[no stack] 5 5\n"};
    rp_profile_t *sums[] = {sum_of(texts, 2), sum_of(texts, 0)};
    int count;
    const rp_format_t *formats = rp_formats(&count);
    for (int s = 0; s < 2; s++) {
        sums[s]->method = "ROUTE";
        sums[s]->uri = "GET /x";
        for (int i = 0; i < count; i++) {
            apr_size_t len = 12345;
            const char *out =
                rp_format_render(&formats[i], sums[s], 0, pool, &len);
            ck_assert_msg(out != NULL, "format %s", formats[i].names[0]);
            ck_assert_msg(s == 1 || len > 0, "format %s", formats[i].names[0]);
        }
    }
    /* Every phase not run, and the waiting part kept apart. */
    for (int i = 0; i < RP_PHASE_COUNT; i++) {
        ck_assert_int_eq(sums[0]->phases[i].first_us, -1);
    }
    ck_assert_uint_gt(sums[0]->stats.wait_weight, 0);
    ck_assert_uint_ge(sums[0]->tree->root.self, 10);
    ck_assert(strstr(render(sums[0]), RP_COLLAPSED_EMPTY_STACK " ") != NULL);
    ck_assert_uint_eq(sums[1]->tree->root.total, 0);
    ck_assert_str_eq(render(sums[1]), "");
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
    tcase_add_test(tc, empty_brackets_are_part_of_the_name);
    tcase_add_test(tc, malformed_lines_are_skipped);
    tcase_add_test(tc, merged_profiles_render);
    tcase_add_test(tc, round_trip_of_a_random_profile);
    tcase_add_test(tc, a_sum_is_the_sum_per_stack);
    tcase_add_test(tc, the_same_texts_give_the_same_output);
    tcase_add_test(tc, frames_are_interned);
    tcase_add_test(tc, frames_no_profile_writes_are_skipped);
    tcase_add_test(tc, absurd_times_are_bounded);
    tcase_add_test(tc, depth_is_bounded);
    tcase_add_test(tc, random_text_is_survived);
    tcase_add_test(tc, every_format_renders_a_sum);
    suite_add_tcase(s, tc);
    return s;
}
