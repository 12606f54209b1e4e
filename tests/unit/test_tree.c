/* rp_tree: the top-down call tree built from stacks of interned frames. */
#include <apr_pools.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_tree.h"
#include "unit_suites.h"

static apr_pool_t *pool;

static const rp_func_t f_main = {.name = "main", .object = "app"};
static const rp_func_t f_a = {.name = "a", .object = "app"};
static const rp_func_t f_b = {.name = "b", .object = "app"};
static const rp_func_t f_c = {.name = "c", .object = "app"};
static const rp_func_t f_d = {.name = "d", .object = "app"};
/* Same name as f_a, another record: frames compare by pointer. */
static const rp_func_t f_a_other = {.name = "a", .object = "libother.so"};

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

/* Adds one stack of on-CPU (ADD) or waiting (ADD_WAIT) time. */
#define ADD_SAMPLE(tree, weight, waiting, ...)                                 \
    do {                                                                       \
        const rp_func_t *const frames_[] = {__VA_ARGS__};                      \
        rp_tree_add((tree), frames_, sizeof(frames_) / sizeof(frames_[0]),     \
                    (weight), (waiting));                                      \
    } while (0)
#define ADD(tree, weight, ...) ADD_SAMPLE(tree, weight, 0, __VA_ARGS__)
#define ADD_WAIT(tree, weight, ...) ADD_SAMPLE(tree, weight, 1, __VA_ARGS__)

static unsigned count_children(const rp_node_t *n)
{
    unsigned k = 0;
    for (const rp_node_t *c = n->first_child; c != NULL; c = c->next_sibling) {
        k++;
    }
    return k;
}

static const rp_node_t *child(const rp_node_t *n, const rp_func_t *f)
{
    for (const rp_node_t *c = n->first_child; c != NULL; c = c->next_sibling) {
        if (c->func == f) {
            return c;
        }
    }
    return NULL;
}

static const rp_node_t *nth_child(const rp_node_t *n, unsigned i)
{
    const rp_node_t *c = n->first_child;
    while (c != NULL && i-- > 0) {
        c = c->next_sibling;
    }
    return c;
}

/* Checks the invariants every tree keeps: parent links, depths, total =
 * self + sum of children's totals. Returns the number of nodes below n. */
static unsigned check_invariants(const rp_node_t *n, unsigned *max_depth)
{
    uint64_t sum = 0;
    uint64_t wait_sum = 0;
    unsigned nodes = 0;
    if (n->depth > *max_depth) {
        *max_depth = n->depth;
    }
    for (const rp_node_t *c = n->first_child; c != NULL; c = c->next_sibling) {
        ck_assert_ptr_eq(c->parent, n);
        ck_assert_uint_eq(c->depth, n->depth + 1);
        ck_assert_ptr_nonnull(c->func);
        ck_assert_uint_gt(c->total, 0);
        sum += c->total;
        wait_sum += c->wait;
        nodes += 1 + check_invariants(c, max_depth);
    }
    ck_assert_uint_eq(n->total, n->self + sum);
    /* Waiting time is part of the total, and flows up like it. */
    ck_assert_uint_le(n->wait, n->total);
    ck_assert_uint_ge(n->wait, wait_sum);
    ck_assert_uint_le(n->wait - wait_sum, n->self);
    return nodes;
}

static void check_tree(const rp_tree_t *t)
{
    unsigned max_depth = 0;
    ck_assert_ptr_null(t->root.func);
    ck_assert_ptr_null(t->root.parent);
    ck_assert_uint_eq(t->root.depth, 0);
    ck_assert_uint_eq(check_invariants(&t->root, &max_depth), t->node_count);
    ck_assert_uint_eq(max_depth, t->max_depth);
}

START_TEST(empty_tree)
{
    rp_tree_t *t = rp_tree_create(pool);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(t->pool, pool);
    ck_assert_uint_eq(t->node_count, 0);
    ck_assert_uint_eq(t->max_depth, 0);
    ck_assert_uint_eq(t->root.total, 0);
    ck_assert_ptr_null(t->root.first_child);
    rp_tree_sort(t);
    check_tree(t);
}
END_TEST

START_TEST(single_stack)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 1, &f_main, &f_a, &f_b);
    check_tree(t);
    ck_assert_uint_eq(t->node_count, 3);
    ck_assert_uint_eq(t->max_depth, 3);
    ck_assert_uint_eq(t->root.total, 1);
    ck_assert_uint_eq(t->root.self, 0);
    const rp_node_t *m = t->root.first_child;
    ck_assert_ptr_eq(m->func, &f_main);
    ck_assert_uint_eq(m->total, 1);
    ck_assert_uint_eq(m->self, 0);
    const rp_node_t *a = m->first_child;
    ck_assert_ptr_eq(a->func, &f_a);
    ck_assert_uint_eq(a->self, 0);
    const rp_node_t *b = a->first_child;
    ck_assert_ptr_eq(b->func, &f_b);
    ck_assert_uint_eq(b->total, 1);
    ck_assert_uint_eq(b->self, 1);
    ck_assert_uint_eq(b->depth, 3);
    ck_assert_ptr_null(b->first_child);
}
END_TEST

START_TEST(identical_prefixes_merge)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 1, &f_main, &f_a, &f_b);
    ADD(t, 1, &f_main, &f_a, &f_b);
    ADD(t, 1, &f_main, &f_a, &f_c);
    ADD(t, 1, &f_main, &f_a);
    check_tree(t);
    ck_assert_uint_eq(t->node_count, 4); /* main, a, b, c */
    ck_assert_uint_eq(count_children(&t->root), 1);
    const rp_node_t *m = child(&t->root, &f_main);
    ck_assert_uint_eq(m->total, 4);
    ck_assert_uint_eq(count_children(m), 1);
    const rp_node_t *a = child(m, &f_a);
    ck_assert_uint_eq(a->total, 4);
    ck_assert_uint_eq(a->self, 1);
    ck_assert_uint_eq(count_children(a), 2);
    ck_assert_uint_eq(child(a, &f_b)->total, 2);
    ck_assert_uint_eq(child(a, &f_b)->self, 2);
    ck_assert_uint_eq(child(a, &f_c)->total, 1);
    ck_assert_uint_eq(child(a, &f_c)->self, 1);
}
END_TEST

START_TEST(different_functions_are_siblings)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 1, &f_main, &f_a);
    ADD(t, 1, &f_main, &f_b);
    ADD(t, 1, &f_main, &f_c);
    ADD(t, 1, &f_d); /* another root-level caller */
    check_tree(t);
    ck_assert_uint_eq(count_children(&t->root), 2);
    const rp_node_t *m = child(&t->root, &f_main);
    ck_assert_uint_eq(count_children(m), 3);
    ck_assert_uint_eq(m->total, 3);
    ck_assert_uint_eq(m->self, 0);
    ck_assert_uint_eq(child(&t->root, &f_d)->total, 1);
    ck_assert_uint_eq(t->node_count, 5);
    ck_assert_uint_eq(t->max_depth, 2);
    ck_assert_uint_eq(t->root.total, 4);
}
END_TEST

START_TEST(frames_compare_by_pointer)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 1, &f_main, &f_a);
    ADD(t, 1, &f_main, &f_a_other);
    check_tree(t);
    const rp_node_t *m = child(&t->root, &f_main);
    ck_assert_uint_eq(count_children(m), 2);
    ck_assert_uint_eq(child(m, &f_a)->total, 1);
    ck_assert_uint_eq(child(m, &f_a_other)->total, 1);
}
END_TEST

START_TEST(weights)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 5, &f_main, &f_a);
    ADD(t, 3, &f_main, &f_a, &f_b);
    ADD(t, 1000000000000ull, &f_main, &f_c);
    check_tree(t);
    const rp_node_t *m = child(&t->root, &f_main);
    ck_assert_uint_eq(t->root.total, 1000000000008ull);
    ck_assert_uint_eq(m->total, 1000000000008ull);
    ck_assert_uint_eq(child(m, &f_a)->total, 8);
    ck_assert_uint_eq(child(m, &f_a)->self, 5);
    ck_assert_uint_eq(child(child(m, &f_a), &f_b)->self, 3);
    ck_assert_uint_eq(child(m, &f_c)->self, 1000000000000ull);
}
END_TEST

START_TEST(empty_stack_counts_at_root)
{
    rp_tree_t *t = rp_tree_create(pool);
    rp_tree_add(t, NULL, 0, 2, 0);
    ADD(t, 1, &f_a);
    check_tree(t);
    ck_assert_uint_eq(t->root.total, 3);
    ck_assert_uint_eq(t->root.self, 2);
    ck_assert_uint_eq(t->node_count, 1);
}
END_TEST

START_TEST(recursion_is_nested)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 1, &f_a, &f_b, &f_a);
    ADD(t, 1, &f_a, &f_b, &f_a, &f_b, &f_a);
    ADD(t, 1, &f_a);
    check_tree(t);
    ck_assert_uint_eq(count_children(&t->root), 1);
    const rp_node_t *a1 = child(&t->root, &f_a);
    ck_assert_uint_eq(a1->total, 3);
    ck_assert_uint_eq(a1->self, 1);
    const rp_node_t *b1 = child(a1, &f_b);
    const rp_node_t *a2 = child(b1, &f_a);
    ck_assert_ptr_nonnull(a2);
    ck_assert_ptr_ne(a2, a1);
    ck_assert_uint_eq(a2->depth, 3);
    ck_assert_uint_eq(a2->total, 2);
    ck_assert_uint_eq(a2->self, 1);
    const rp_node_t *a3 = child(child(a2, &f_b), &f_a);
    ck_assert_uint_eq(a3->depth, 5);
    ck_assert_uint_eq(a3->self, 1);
    ck_assert_uint_eq(t->node_count, 5);
    ck_assert_uint_eq(t->max_depth, 5);
}
END_TEST

START_TEST(waiting_weight)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 4, &f_main, &f_a, &f_b);
    ADD_WAIT(t, 3, &f_main, &f_a, &f_c);
    ADD_WAIT(t, 2, &f_main, &f_a);
    ADD(t, 1, &f_main, &f_a, &f_c);
    check_tree(t);
    ck_assert_uint_eq(t->root.total, 10);
    ck_assert_uint_eq(t->root.wait, 5);
    const rp_node_t *m = child(&t->root, &f_main);
    const rp_node_t *a = child(m, &f_a);
    ck_assert_uint_eq(m->wait, 5);
    ck_assert_uint_eq(a->total, 10);
    ck_assert_uint_eq(a->wait, 5);
    ck_assert_uint_eq(a->self, 2); /* waiting time ending here is self too */
    ck_assert_uint_eq(child(a, &f_b)->wait, 0);
    ck_assert_uint_eq(child(a, &f_b)->total, 4);
    ck_assert_uint_eq(child(a, &f_c)->wait, 3);
    ck_assert_uint_eq(child(a, &f_c)->total, 4);
    ck_assert_uint_eq(child(a, &f_c)->self, 4);
    /* Waiting and running stacks share nodes: no separate branch. */
    ck_assert_uint_eq(t->node_count, 4);
    /* Sorting goes by total, waiting included. */
    ADD_WAIT(t, 6, &f_main, &f_d);
    rp_tree_sort(t);
    check_tree(t);
    ck_assert_ptr_eq(m->first_child->func, &f_a);
    ck_assert_ptr_eq(m->first_child->next_sibling->func, &f_d);
    ADD_WAIT(t, 5, &f_main, &f_d);
    rp_tree_sort(t);
    ck_assert_ptr_eq(m->first_child->func, &f_d);
    ck_assert_uint_eq(m->first_child->wait, 11);
    ck_assert_uint_eq(t->root.wait, 16);
}
END_TEST

START_TEST(sort_heaviest_first)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 1, &f_main, &f_a);
    ADD(t, 5, &f_main, &f_b);
    ADD(t, 3, &f_main, &f_c);
    ADD(t, 4, &f_main, &f_d);
    /* Children of b, lightest first too. */
    ADD(t, 1, &f_main, &f_b, &f_c);
    ADD(t, 2, &f_main, &f_b, &f_a);
    ADD(t, 1, &f_d);
    rp_tree_sort(t);
    check_tree(t);
    ck_assert_ptr_eq(nth_child(&t->root, 0)->func, &f_main);
    ck_assert_ptr_eq(nth_child(&t->root, 1)->func, &f_d);
    const rp_node_t *m = nth_child(&t->root, 0);
    const rp_func_t *want[] = {&f_b, &f_d, &f_c, &f_a};
    ck_assert_uint_eq(count_children(m), 4);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_msg(nth_child(m, i)->func == want[i],
                      "child %u of main is %s, not %s", i,
                      nth_child(m, i)->func->name, want[i]->name);
    }
    const rp_node_t *b = nth_child(m, 0);
    ck_assert_uint_eq(b->total, 8);
    ck_assert_ptr_eq(nth_child(b, 0)->func, &f_a);
    ck_assert_ptr_eq(nth_child(b, 1)->func, &f_c);
}
END_TEST

START_TEST(sort_ties_by_name)
{
    static const rp_func_t names[] = {
        {.name = "delta"},   {.name = "alpha"}, {.name = "echo"},
        {.name = "charlie"}, {.name = "bravo"}, {.name = "Zulu"},
    };
    rp_tree_t *t = rp_tree_create(pool);
    for (unsigned i = 0; i < 6; i++) {
        ADD(t, 2, &f_main, &names[i]);
    }
    ADD(t, 3, &f_main, &f_a); /* heavier than every tie */
    rp_tree_sort(t);
    check_tree(t);
    const rp_node_t *m = t->root.first_child;
    const char *want[] = {"a",       "Zulu",  "alpha", "bravo",
                          "charlie", "delta", "echo"};
    ck_assert_uint_eq(count_children(m), 7);
    for (unsigned i = 0; i < 7; i++) {
        ck_assert_str_eq(nth_child(m, i)->func->name, want[i]);
    }
}
END_TEST

START_TEST(sort_many_siblings)
{
    /* Enough siblings for several merge levels; weights in a scrambled
     * order, each distinct. */
    enum { N = 257 };
    static rp_func_t funcs[N];
    static char names[N][8];
    rp_tree_t *t = rp_tree_create(pool);
    for (unsigned i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "f%03u", i);
        funcs[i].name = names[i];
        unsigned weight = (i * 37u) % N + 1; /* a permutation of 1..N */
        ADD(t, weight, &f_main, &funcs[i]);
    }
    rp_tree_sort(t);
    check_tree(t);
    const rp_node_t *m = t->root.first_child;
    ck_assert_uint_eq(count_children(m), N);
    uint64_t expect_total = N;
    for (const rp_node_t *c = m->first_child; c; c = c->next_sibling) {
        ck_assert_uint_eq(c->total, expect_total);
        expect_total--;
    }
    ck_assert_uint_eq(t->node_count, N + 1);
}
END_TEST

START_TEST(sort_twice_is_stable)
{
    rp_tree_t *t = rp_tree_create(pool);
    ADD(t, 2, &f_main, &f_c);
    ADD(t, 2, &f_main, &f_a);
    ADD(t, 7, &f_main, &f_b);
    rp_tree_sort(t);
    rp_tree_sort(t);
    const rp_node_t *m = t->root.first_child;
    ck_assert_ptr_eq(nth_child(m, 0)->func, &f_b);
    ck_assert_ptr_eq(nth_child(m, 1)->func, &f_a);
    ck_assert_ptr_eq(nth_child(m, 2)->func, &f_c);
    /* Adding after a sort still merges into the existing nodes. */
    ADD(t, 10, &f_main, &f_c);
    rp_tree_sort(t);
    check_tree(t);
    ck_assert_ptr_eq(nth_child(m, 0)->func, &f_c);
    ck_assert_uint_eq(nth_child(m, 0)->total, 12);
    ck_assert_uint_eq(t->node_count, 4);
}
END_TEST

static void totals_of(const rp_node_t *node, uint64_t *out, unsigned *n)
{
    for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
        out[(*n)++] = c->total;
        totals_of(c, out, n);
    }
}

static int heavier(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* The least weight of the N heaviest nodes is what a sort of every node's
 * total gives, for every N, on a tree with ties, wide and deep parts; and
 * the nodes it keeps are exactly N where no tie straddles the cut. */
START_TEST(min_weight_is_that_of_a_full_sort)
{
    enum { FUNCS = 60 };
    static rp_func_t funcs[FUNCS];
    static char names[FUNCS][8];
    for (unsigned i = 0; i < FUNCS; i++) {
        snprintf(names[i], sizeof(names[i]), "f%u", i);
        funcs[i].name = names[i];
        funcs[i].object = "app";
    }
    rp_tree_t *t = rp_tree_create(pool);
    uint64_t seed = 12345;
    for (unsigned s = 0; s < 400; s++) {
        const rp_func_t *frames[12];
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned depth = 1 + (unsigned)(seed >> 33) % 12;
        for (unsigned j = 0; j < depth; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            frames[j] = &funcs[(seed >> 33) % (j < 3 ? 4 : FUNCS)];
        }
        rp_tree_add(t, frames, depth, 1 + s % 3, 0);
    }
    rp_tree_sort(t);
    uint64_t *totals = apr_palloc(pool, sizeof(*totals) * t->node_count);
    unsigned n = 0;
    totals_of(&t->root, totals, &n);
    ck_assert_uint_eq(n, t->node_count);
    qsort(totals, n, sizeof(*totals), heavier);
    for (unsigned max = 0; max <= n + 1; max++) {
        uint64_t want = max >= n ? 0 : totals[max] + 1;
        ck_assert_uint_eq(rp_tree_min_weight(t, max), want);
    }
}
END_TEST

Suite *tree_suite(void)
{
    Suite *s = suite_create("rp_tree");
    TCase *tc = tcase_create("tree");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, empty_tree);
    tcase_add_test(tc, single_stack);
    tcase_add_test(tc, identical_prefixes_merge);
    tcase_add_test(tc, different_functions_are_siblings);
    tcase_add_test(tc, frames_compare_by_pointer);
    tcase_add_test(tc, weights);
    tcase_add_test(tc, empty_stack_counts_at_root);
    tcase_add_test(tc, recursion_is_nested);
    tcase_add_test(tc, waiting_weight);
    tcase_add_test(tc, sort_heaviest_first);
    tcase_add_test(tc, sort_ties_by_name);
    tcase_add_test(tc, sort_many_siblings);
    tcase_add_test(tc, sort_twice_is_stable);
    tcase_add_test(tc, min_weight_is_that_of_a_full_sort);
    suite_add_tcase(s, tc);
    return s;
}
