/* rp_symbols: naming code addresses of this very process. */
#include <apr_pools.h>
#include <apr_thread_proc.h>
#include <dlfcn.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "rp_symbols.h"
#include "unit_suites.h"

static apr_pool_t *pool;
static rp_symbols_t *table;

/* Static (not exported): only .symtab names it, so the binary must not be
 * stripped. Its body is unlike any other function so that identical code
 * folding cannot merge it. */
__attribute__((noinline)) static unsigned rp_test_symbols_target(unsigned x)
{
    unsigned acc = x * 2654435761u;
    for (unsigned i = 0; i < (x & 7u); i++) {
        acc = (acc << 5) ^ (acc >> 3) ^ 0x5bd1e995u;
    }
    return acc;
}

__attribute__((noinline)) static unsigned rp_test_symbols_other(unsigned x)
{
    return x * 40503u + 0x9e3779b9u;
}

/* Keeps the compiler from dropping either function. */
static unsigned (*volatile rp_test_symbols_keep[])(unsigned) = {
    rp_test_symbols_target, rp_test_symbols_other};

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(rp_symbols_create(&table, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(table);
}

static void teardown(void)
{
    rp_symbols_destroy(table);
    table = NULL;
    /* The pool's cleanup destroys the table again: must be harmless. */
    apr_pool_destroy(pool);
    pool = NULL;
}

static uintptr_t target_address(void)
{
    return (uintptr_t)rp_test_symbols_keep[0];
}

START_TEST(static_function)
{
    ck_assert_uint_ne(rp_test_symbols_keep[0](3), rp_test_symbols_keep[1](3));
    const rp_func_t *f = rp_symbols_lookup(table, target_address(), 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->name, "rp_test_symbols_target");
    ck_assert_str_eq(f->object, "unit_tests");
    ck_assert_int_eq(f->resolved, 1);
    ck_assert_ptr_nonnull(f->file);
    ck_assert_str_eq(f->file, "test_symbols.c");
    ck_assert_int_gt(f->line, 0);
}
END_TEST

START_TEST(addresses_in_one_function_share_a_record)
{
    uintptr_t addr = target_address();
    const rp_func_t *entry = rp_symbols_lookup(table, addr, 0);
    /* A return address just past the first byte names the same function. */
    const rp_func_t *ret = rp_symbols_lookup(table, addr + 1, 1);
    const rp_func_t *inside = rp_symbols_lookup(table, addr + 2, 0);
    const rp_func_t *again = rp_symbols_lookup(table, addr, 0);
    ck_assert_ptr_eq(entry, ret);
    ck_assert_ptr_eq(entry, inside);
    ck_assert_ptr_eq(entry, again);
    /* Another function gets another record. */
    const rp_func_t *other =
        rp_symbols_lookup(table, (uintptr_t)rp_test_symbols_keep[1], 0);
    ck_assert_ptr_ne(entry, other);
    ck_assert_str_eq(other->name, "rp_test_symbols_other");
    ck_assert_str_eq(other->file, "test_symbols.c");
    ck_assert_int_gt(other->line, entry->line);
}
END_TEST

START_TEST(exported_libc_function)
{
    pid_t (*volatile fn)(void) = getpid;
    const rp_func_t *f = rp_symbols_lookup(table, (uintptr_t)fn, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->resolved, 1);
    /* glibc names it getpid or __getpid; either is right. */
    ck_assert_msg(strcmp(f->name, "getpid") == 0 ||
                      strcmp(f->name, "__getpid") == 0,
                  "getpid named %s", f->name);
    ck_assert_msg(strncmp(f->object, "libc", 4) == 0, "getpid in %s",
                  f->object);
    ck_assert_ptr_eq(rp_symbols_lookup(table, (uintptr_t)fn + 1, 1), f);
}
END_TEST

START_TEST(library_function)
{
    /* A function of a library the binary links: APR. */
    apr_status_t (*volatile fn)(apr_pool_t **, apr_pool_t *, apr_abortfunc_t,
                                apr_allocator_t *) = apr_pool_create_ex;
    const rp_func_t *f = rp_symbols_lookup(table, (uintptr_t)fn, 0);
    ck_assert_int_eq(f->resolved, 1);
    ck_assert_str_eq(f->name, "apr_pool_create_ex");
    ck_assert_msg(strncmp(f->object, "libapr-1.so", 11) == 0, "in %s",
                  f->object);
}
END_TEST

START_TEST(vdso_function)
{
    /* clock_gettime runs in the vDSO, which no file backs: it is named from
     * the image in memory. */
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    void *vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (base == 0 || vdso == NULL) {
        /* No vDSO (valgrind hides it): nothing to name. */
        return;
    }
    void *fn = dlsym(vdso, "__vdso_clock_gettime");
    dlclose(vdso);
    ck_assert_ptr_nonnull(fn);
    const rp_func_t *f = rp_symbols_lookup(table, (uintptr_t)fn, 0);
    ck_assert_str_eq(f->object, "[vdso]");
    ck_assert_int_eq(f->resolved, 1);
    size_t n = strlen(f->name);
    ck_assert_msg(n >= 13 && strcmp(f->name + n - 13, "clock_gettime") == 0,
                  "vDSO clock_gettime named %s", f->name);
    ck_assert_ptr_eq(rp_symbols_lookup(table, (uintptr_t)fn + 1, 1), f);
    /* The ELF header is in the vDSO but in no function. */
    const rp_func_t *h = rp_symbols_lookup(table, base, 0);
    ck_assert_str_eq(h->object, "[vdso]");
    ck_assert_int_eq(h->resolved, 0);
    ck_assert_str_eq(h->name, "[vdso]+0x0");
}
END_TEST

START_TEST(unmapped_address)
{
    const rp_func_t *f = rp_symbols_lookup(table, 0x10, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->resolved, 0);
    ck_assert_ptr_nonnull(f->name);
    ck_assert_int_eq(strncmp(f->name, "0x", 2), 0);
    ck_assert_str_eq(f->name, "0x10");
    ck_assert_str_eq(f->object, "[unknown]");
    ck_assert_ptr_null(f->file);
    ck_assert_int_eq(f->line, 0);
    /* Same answer, same record, the second time. */
    ck_assert_ptr_eq(rp_symbols_lookup(table, 0x10, 0), f);
    /* As a return address it is 0xf, still unknown. */
    const rp_func_t *r = rp_symbols_lookup(table, 0x10, 1);
    ck_assert_int_eq(r->resolved, 0);
    ck_assert_str_eq(r->name, "0xf");
}
END_TEST

START_TEST(null_address)
{
    const rp_func_t *f = rp_symbols_lookup(table, 0, 1);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->resolved, 0);
    ck_assert_str_eq(f->name, "0x0");
}
END_TEST

/* Several threads looking up at once get the same interned records. */
static void *APR_THREAD_FUNC lookup_thread(apr_thread_t *thread, void *data)
{
    const rp_func_t **out = data;
    for (int i = 0; i < 200; i++) {
        uintptr_t base = (uintptr_t)rp_test_symbols_keep[i & 1];
        const rp_func_t *f =
            rp_symbols_lookup(table, base + (unsigned)i % 4, 0);
        if (out[i & 1] == NULL) {
            out[i & 1] = f;
        } else if (out[i & 1] != f) {
            out[2] = f; /* a mismatch */
        }
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

START_TEST(concurrent_lookups)
{
    enum { THREADS = 4 };
    apr_thread_t *threads[THREADS];
    const rp_func_t *seen[THREADS][3];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(
            apr_thread_create(&threads[i], NULL, lookup_thread, seen[i], pool),
            APR_SUCCESS);
    }
    for (int i = 0; i < THREADS; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, threads[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_ptr_null(seen[i][2]);
        ck_assert_ptr_eq(seen[i][0], seen[0][0]);
        ck_assert_ptr_eq(seen[i][1], seen[0][1]);
    }
    ck_assert_str_eq(seen[0][0]->name, "rp_test_symbols_target");
    ck_assert_str_eq(seen[0][1]->name, "rp_test_symbols_other");
}
END_TEST

Suite *symbols_suite(void)
{
    Suite *s = suite_create("rp_symbols");
    TCase *tc = tcase_create("lookup");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* libdw reads this binary's DWARF once per table: slow under valgrind. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, static_function);
    tcase_add_test(tc, addresses_in_one_function_share_a_record);
    tcase_add_test(tc, exported_libc_function);
    tcase_add_test(tc, library_function);
    tcase_add_test(tc, vdso_function);
    tcase_add_test(tc, unmapped_address);
    tcase_add_test(tc, null_address);
    tcase_add_test(tc, concurrent_lookups);
    suite_add_tcase(s, tc);
    return s;
}
