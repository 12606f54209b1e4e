/* rp_profile: the call tree built from a real sampler run. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <signal.h>
#include <string.h>

#include "rp_html.h"
#include "rp_profile.h"
#include "unit_suites.h"
#include "unit_util.h"

#define BURN_NAME "rp_test_profile_burn"
#define DEEP_NAME "rp_test_profile_deep"

static apr_pool_t *pool;
static rp_symbols_t *symbols;
static sigset_t mask_at_setup;

__attribute__((noinline)) static uint64_t rp_test_profile_burn(uint64_t ns)
{
    static volatile uint64_t sink;
    uint64_t end = ut_now_ns(CLOCK_MONOTONIC) + ns;
    uint64_t x = sink + 3;
    do {
        for (int i = 0; i < 20000; i++) {
            x = x * 2862933555777941757ull + 3037000493ull;
            x ^= x >> 31;
        }
        ut_let_others_run();
    } while (ut_now_ns(CLOCK_MONOTONIC) < end);
    sink = x;
    return x;
}

static uint64_t (*volatile burn_fn)(uint64_t) = rp_test_profile_burn;

__attribute__((noinline)) static uint64_t rp_test_profile_deep(unsigned n,
                                                               uint64_t ns)
{
    volatile unsigned char frame[16];
    frame[0] = (unsigned char)n;
    uint64_t r = n == 0 ? burn_fn(ns) : rp_test_profile_deep(n - 1, ns);
    return r + frame[0];
}

static uint64_t (*volatile deep_fn)(unsigned, uint64_t) = rp_test_profile_deep;

static void setup(void)
{
    ck_assert_int_eq(rp_sampler_init_process(UT_SIGNAL, UT_ARENA_BYTES),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(rp_symbols_create(&symbols, pool), APR_SUCCESS);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, UT_SIGNAL);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &unblock, &mask_at_setup), 0);
}

static void teardown(void)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    if (s != NULL && rp_sampler_is_active(s)) {
        ut_stop(s, rp_sampler_session(s));
    }
    ut_unwinder_reset();
    pthread_sigmask(SIG_SETMASK, &mask_at_setup, NULL);
    rp_symbols_destroy(symbols);
    symbols = NULL;
    apr_pool_destroy(pool);
    pool = NULL;
}

/* As in test_sampler.c: under valgrind a thin session is run again. */
static int try_again(int attempt, int enough)
{
    return !enough && ut_under_valgrind() && attempt < 9;
}

static int name_is(const rp_func_t *f, const char *base)
{
    size_t n = strlen(base);
    return strncmp(f->name, base, n) == 0 &&
           (f->name[n] == '\0' || f->name[n] == '.');
}

/* Sum of the weight of the nodes for functions named base, and checks of
 * the invariants on the way. */
static uint64_t weight_in(const rp_node_t *node, const char *base,
                          unsigned *count)
{
    uint64_t sum = 0;
    uint64_t children = 0;
    for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
        ck_assert_ptr_eq(c->parent, node);
        ck_assert_ptr_nonnull(c->func);
        ck_assert_ptr_nonnull(c->func->name);
        if (c->next_sibling != NULL) {
            ck_assert_uint_ge(c->total, c->next_sibling->total);
        }
        children += c->total;
        if (name_is(c->func, base)) {
            sum += c->self;
            (*count)++;
        }
        sum += weight_in(c, base, count);
    }
    ck_assert_uint_eq(node->total, node->self + children);
    return sum;
}

static rp_profile_t *profile_run(rp_sampler_t *s, unsigned depth,
                                 unsigned interval_us, unsigned ms)
{
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, interval_us, &session),
                     APR_SUCCESS);
    if (depth == 0) {
        burn_fn((uint64_t)ms * 1000000u);
    } else {
        deep_fn(depth, (uint64_t)ms * 1000000u);
    }
    ut_stop(s, session);
    rp_profile_t *p = apr_pcalloc(pool, sizeof(*p));
    p->method = "GET";
    p->uri = "/burn";
    p->status = 200;
    rp_sampler_stats(s, &p->stats);
    rp_profile_build_tree(p, s, symbols, pool);
    return p;
}

START_TEST(tree_from_real_samples)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    ck_assert_ptr_nonnull(s);
    unsigned ms = ut_under_valgrind() ? 50 : 150;
    rp_profile_t *p;
    for (int attempt = 0;; attempt++) {
        p = profile_run(s, 0, 1000, ms);
        if (!try_again(attempt, p->stats.samples > 0)) {
            break;
        }
    }
    ck_assert_ptr_nonnull(p->tree);
    ck_assert_uint_gt(p->stats.samples, 0);
    ck_assert_uint_gt(p->tree->node_count, 0);
    ck_assert_uint_eq(p->tree->root.total, p->stats.weight);
    ck_assert_uint_eq(p->tree->root.wait, p->stats.wait_weight);
    ck_assert_uint_eq(p->tree->root.self, 0);
    unsigned nodes = 0;
    uint64_t in_burn = weight_in(&p->tree->root, BURN_NAME, &nodes);
    ck_assert_double_eq_tol(rp_profile_weight_ms(p, p->stats.weight),
                            (double)p->stats.weight, 1e-9);
    apr_size_t len = 0;
    const char *page = rp_html_render(p, pool, &len);
    ck_assert_uint_eq(strlen(page), len);
    if (ut_under_valgrind()) {
        /* Valgrind's own registers and stacks: see test_sampler.c. */
        return;
    }

    ck_assert_msg(nodes > 0, "no node for " BURN_NAME);
    /* Nearly all the time is spent in the burn loop itself. */
    ck_assert_msg(
        in_burn * 2 >= p->stats.weight, "%llu of %llu intervals in " BURN_NAME,
        (unsigned long long)in_burn, (unsigned long long)p->stats.weight);
    ck_assert_uint_eq(p->truncated_stacks, 0);
    /* Callers first: the burn function is not at the top level. */
    for (const rp_node_t *c = p->tree->root.first_child; c;
         c = c->next_sibling) {
        ck_assert(!name_is(c->func, BURN_NAME));
    }
    ck_assert_uint_gt(p->tree->max_depth, 2);
    /* And the page names it, with its source file. */
    ck_assert_ptr_nonnull(strstr(page, "data-func=\"" BURN_NAME));
    ck_assert_ptr_nonnull(strstr(page, "test_profile.c:"));
}
END_TEST

START_TEST(truncated_stacks_get_a_synthetic_caller)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    unsigned ms = ut_under_valgrind() ? 40 : 80;
    rp_profile_t *p;
    for (int attempt = 0;; attempt++) {
        p = profile_run(s, 200, 1000, ms);
        if (!try_again(attempt, p->stats.samples > 0)) {
            break;
        }
    }
    ck_assert_uint_gt(p->stats.samples, 0);
    ck_assert_uint_eq(p->tree->root.total, p->stats.weight);

    unsigned flagged = 0;
    for (const rp_sample_t *x = rp_sampler_next(s, NULL); x;
         x = rp_sampler_next(s, x)) {
        if (x->flags & RP_SAMPLE_TRUNCATED) {
            flagged++;
        }
    }
    ck_assert_uint_eq(p->truncated_stacks, flagged);
    if (ut_under_valgrind()) {
        /* Valgrind's own registers and stacks: see test_sampler.c. */
        return;
    }
    ck_assert_uint_gt(p->truncated_stacks, 0);

    /* One top-level node stands for the lost outer frames. */
    const rp_node_t *lost = NULL;
    for (const rp_node_t *c = p->tree->root.first_child; c;
         c = c->next_sibling) {
        if (strcmp(c->func->name, RP_TRUNCATED_FRAME) == 0) {
            ck_assert_ptr_null(lost);
            lost = c;
        }
    }
    ck_assert_ptr_nonnull(lost);
    ck_assert_uint_eq(lost->self, 0);
    /* Below it: the innermost RP_MAX_DEPTH frames, mostly recursion (and,
     * for a waiting sample, the system call as one more leaf). */
    ck_assert_uint_ge(p->tree->max_depth, RP_MAX_DEPTH + 1);
    ck_assert_uint_le(p->tree->max_depth, RP_MAX_DEPTH + 2);
    unsigned nodes = 0;
    ck_assert_uint_gt(weight_in(lost, BURN_NAME, &nodes), 0);
    const rp_node_t *first = lost->first_child;
    ck_assert_ptr_nonnull(first);
    ck_assert(name_is(first->func, DEEP_NAME));
}
END_TEST

START_TEST(empty_run)
{
    /* An interval longer than the run: no samples, an empty tree. Ticks
     * fall on whole intervals since the process started sampling, so a run
     * that happens to cross one (1 ms in 1 s; more where the run is slowed,
     * as under AddressSanitizer) has its sample: that run is not this
     * case, and it is tried again. */
    rp_sampler_t *s = rp_sampler_for_this_thread();
    rp_profile_t *p = profile_run(s, 0, 1000000, 1);
    for (int attempt = 0; p->stats.samples > 0 && attempt < 3; attempt++) {
        p = profile_run(s, 0, 1000000, 1);
    }
    ck_assert_uint_eq(p->stats.samples, 0);
    ck_assert_uint_eq(p->tree->root.total, 0);
    ck_assert_uint_eq(p->tree->node_count, 0);
    ck_assert_ptr_null(p->tree->root.first_child);
    ck_assert_uint_eq(p->truncated_stacks, 0);
    apr_size_t len = 0;
    const char *page = rp_html_render(p, pool, &len);
    ck_assert_ptr_nonnull(strstr(page, "id=\"rp-empty\""));
}
END_TEST

START_TEST(summed_profile_says_what_it_is)
{
    /* A route's sum has no one session's signals and late intervals: its
     * sampling line says it is a sum rather than zeros that look like one
     * request's. */
    rp_profile_t p;
    memset(&p, 0, sizeof(p));
    const char *one = rp_profile_sampling_summary(&p, pool);
    ck_assert_ptr_nonnull(strstr(one, "0 signals"));
    p.summed_profiles = 12;
    const char *sum = rp_profile_sampling_summary(&p, pool);
    ck_assert_str_eq(sum, "the stacks of 12 saved profiles, summed; each "
                          "profile says how it was sampled");
}
END_TEST

START_TEST(weight_ms)
{
    rp_profile_t p;
    memset(&p, 0, sizeof(p));
    p.stats.interval_us = 1000;
    ck_assert_double_eq_tol(rp_profile_weight_ms(&p, 3), 3.0, 1e-12);
    p.stats.interval_us = 250;
    ck_assert_double_eq_tol(rp_profile_weight_ms(&p, 10), 2.5, 1e-12);
    p.stats.interval_us = 1000000;
    ck_assert_double_eq_tol(rp_profile_weight_ms(&p, 0), 0.0, 1e-12);
    ck_assert_double_eq_tol(rp_profile_weight_ms(&p, 7), 7000.0, 1e-9);
}
END_TEST

Suite *profile_suite(void)
{
    Suite *s = suite_create("rp_profile");
    TCase *tc = tcase_create("build_tree");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tree_from_real_samples);
    tcase_add_test(tc, truncated_stacks_get_a_synthetic_caller);
    tcase_add_test(tc, empty_run);
    tcase_add_test(tc, weight_ms);
    tcase_add_test(tc, summed_profile_says_what_it_is);
    suite_add_tcase(s, tc);
    return s;
}
