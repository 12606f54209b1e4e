/* rp_symbols: naming code addresses of this very process. */
#include <apr_pools.h>
#include <apr_thread_proc.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "rp_symbols.h"
#include "unit_suites.h"
#include "unit_util.h"

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
        /* Linux maps a vDSO into every x86-64 process; valgrind hides it
         * (make unit-valgrind sets RP_UNDER_VALGRIND). Only there is its
         * absence expected, and the skip is said. */
        ck_assert_msg(ut_under_valgrind(),
                      "no vDSO in this process (AT_SYSINFO_EHDR %#lx, "
                      "linux-vdso.so.1 %s)",
                      (unsigned long)base, vdso ? "loaded" : "not loaded");
        if (vdso != NULL) {
            dlclose(vdso);
        }
        fprintf(stderr, "vdso_function: SKIPPED under valgrind, which hides "
                        "the vDSO\n");
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

/* ---- separate debug files --------------------------------------------- */

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

#include "rp_dwfl.h"

START_TEST(build_id_path)
{
    static const unsigned char id[] = {0x93, 0xac, 0x61, 0xec, 0x0f};
    char out[64];
    ck_assert_int_eq(rp_dwfl_build_id_path(out, sizeof(out), "/usr/lib/debug",
                                           id, sizeof(id)),
                     1);
    ck_assert_str_eq(out, "/usr/lib/debug/.build-id/93/ac61ec0f.debug");
    ck_assert_int_eq(rp_dwfl_build_id_path(out, sizeof(out), "/r", id, 2), 1);
    ck_assert_str_eq(out, "/r/.build-id/93/ac.debug");
    /* Too short an id, or no room: nothing. */
    ck_assert_int_eq(rp_dwfl_build_id_path(out, sizeof(out), "/r", id, 1), 0);
    ck_assert_int_eq(rp_dwfl_build_id_path(out, 24, "/r", id, 2), 0);
    ck_assert_int_eq(rp_dwfl_build_id_path(out, 25, "/r", id, 2), 1);
}
END_TEST

/* A scratch debug root, and this test binary's build-id: a copy of the
 * binary is an ELF file carrying that build-id, as a debug file would. */
static char debug_root[64];
static char self_path[1024]; /* this binary (cp must not see /proc/self) */
static unsigned char self_id[64];
static size_t self_id_len;

static void debug_setup(void)
{
    strcpy(debug_root, "/tmp/rp-debug-root-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(debug_root));
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    ck_assert_int_gt(len, 0);
    self_path[len] = '\0';
    elf_version(EV_CURRENT);
    int fd = open(self_path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *id = NULL;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    ck_assert_msg(n > 0 && (size_t)n <= sizeof(self_id),
                  "unit_tests has no build-id");
    memcpy(self_id, id, (size_t)n);
    self_id_len = (size_t)n;
    elf_end(elf);
    close(fd);
}

static void debug_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", debug_root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Puts a copy of src (or of text, when src is NULL) at path, making its
 * directories. */
static void plant(const char *path, const char *src, const char *text)
{
    char cmd[1024];
    if (src != NULL) {
        snprintf(cmd, sizeof(cmd),
                 "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", path, src,
                 path);
    } else {
        snprintf(cmd, sizeof(cmd),
                 "mkdir -p \"$(dirname '%s')\" && printf '%%s' '%s' > '%s'",
                 path, text, path);
    }
    ck_assert_int_eq(system(cmd), 0);
}

static uint32_t file_crc(const char *path)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    unsigned char buf[65536];
    uLong crc = crc32(0L, Z_NULL, 0);
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        crc = crc32(crc, buf, (uInt)n);
    }
    close(fd);
    return (uint32_t)crc;
}

START_TEST(debug_file_found_by_build_id)
{
    char path[256];
    ck_assert_int_eq(rp_dwfl_build_id_path(path, sizeof(path), debug_root,
                                           self_id, self_id_len),
                     1);
    char *found = (char *)"unset";
    /* Nothing installed yet. */
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, self_id, self_id_len,
                                             "/opt/app/libx.so", NULL, 0,
                                             &found),
                     -1);
    ck_assert_ptr_null(found);
    plant(path, self_path, NULL);
    int fd = rp_dwfl_open_debug_file(debug_root, self_id, self_id_len,
                                     "/opt/app/libx.so", NULL, 0, &found);
    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found, path);
    free(found);
    close(fd);
}
END_TEST

START_TEST(debug_file_of_another_build_is_refused)
{
    /* An id whose path holds a file with another build-id (this binary's):
     * never taken, nor a file that is no ELF, nor a directory. */
    unsigned char other[20];
    memset(other, 0x5a, sizeof(other));
    char path[256];
    ck_assert_int_eq(rp_dwfl_build_id_path(path, sizeof(path), debug_root,
                                           other, sizeof(other)),
                     1);
    plant(path, self_path, NULL);
    char *found = NULL;
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, other, sizeof(other),
                                             "/opt/app/libx.so", NULL, 0,
                                             &found),
                     -1);
    ck_assert_ptr_null(found);
    ck_assert_int_eq(rp_dwfl_build_id_path(path, sizeof(path), debug_root,
                                           self_id, self_id_len),
                     1);
    plant(path, NULL, "not an ELF file");
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, self_id, self_id_len,
                                             "/opt/app/libx.so", NULL, 0,
                                             &found),
                     -1);
    unlink(path);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, self_id, self_id_len,
                                             "/opt/app/libx.so", NULL, 0,
                                             &found),
                     -1);
    ck_assert_ptr_null(found);
}
END_TEST

START_TEST(debug_file_found_by_debuglink)
{
    /* root + the object's directory + the .gnu_debuglink name; with a
     * build-id the file must carry it, without one its CRC must match. */
    char path[256];
    snprintf(path, sizeof(path), "%s/opt/app/libx.so.debug", debug_root);
    plant(path, self_path, NULL);
    uint32_t crc = file_crc(path);
    char *found = NULL;
    int fd =
        rp_dwfl_open_debug_file(debug_root, self_id, self_id_len,
                                "/opt/app/libx.so", "libx.so.debug", 0, &found);
    ck_assert_int_ge(fd, 0);
    ck_assert_str_eq(found, path);
    free(found);
    close(fd);
    fd = rp_dwfl_open_debug_file(debug_root, NULL, 0, "/opt/app/libx.so",
                                 "libx.so.debug", crc, &found);
    ck_assert_int_ge(fd, 0);
    ck_assert_str_eq(found, path);
    free(found);
    close(fd);
    found = NULL;
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, NULL, 0,
                                             "/opt/app/libx.so",
                                             "libx.so.debug", crc ^ 1, &found),
                     -1);
    static const unsigned char other[] = {1, 2, 3, 4};
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, other, sizeof(other),
                                             "/opt/app/libx.so",
                                             "libx.so.debug", 0, &found),
                     -1);
    /* A name with a slash (a dwz alternate file) or a relative object path:
     * not searched. */
    ck_assert_int_eq(
        rp_dwfl_open_debug_file(debug_root, NULL, 0, "/opt/app/libx.so",
                                "../app/libx.so.debug", crc, &found),
        -1);
    ck_assert_int_eq(rp_dwfl_open_debug_file(debug_root, NULL, 0,
                                             "opt/app/libx.so", "libx.so.debug",
                                             crc, &found),
                     -1);
    ck_assert_ptr_null(found);
}
END_TEST

START_TEST(objects_opened_at_once_and_sources_named)
{
    ck_assert_int_ge(rp_symbols_open_all(table), 3); /* us, libc, ld.so */
    const rp_func_t *f = rp_symbols_lookup(table, target_address(), 0);
    ck_assert_str_eq(f->name, "rp_test_symbols_target");
    ck_assert_str_eq(rp_symbol_source_name(f->symbols), "own");
    /* libc: its own dynamic symbols, or libc6-dbg's debug file. */
    pid_t (*volatile fn)(void) = getpid;
    const rp_func_t *g = rp_symbols_lookup(table, (uintptr_t)fn, 0);
    ck_assert_int_eq(g->resolved, 1);
    ck_assert_msg(strchr(g->name, '@') == NULL, "%s", g->name);
    Dl_info info;
    ck_assert_int_ne(dladdr((void *)fn, &info), 0);
    int fd = open(info.dli_fname, O_RDONLY);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *id = NULL;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    char path[256];
    struct stat st;
    int have_debug = n > 1 &&
                     rp_dwfl_build_id_path(path, sizeof(path),
                                           RP_DWFL_DEBUG_ROOT, id, (size_t)n) &&
                     stat(path, &st) == 0;
    elf_end(elf);
    close(fd);
    ck_assert_str_eq(rp_symbol_source_name(g->symbols),
                     have_debug ? "debug file" : "own");
    ck_assert_str_eq(
        rp_symbol_source_name(rp_symbols_lookup(table, 0x10, 0)->symbols),
        "none");
    ck_assert_ptr_null(rp_symbol_source_name(RP_SYMBOLS_NOT_AN_OBJECT));
}
END_TEST

/* A session maps the files it opens (libelf reads them with mmap); those
 * mappings are not loaded objects, so a second session sees as many objects
 * as the first, not each one twice. */
START_TEST(files_read_by_a_session_are_not_objects)
{
    Dwfl *first = rp_dwfl_begin_self();
    ck_assert_ptr_nonnull(first);
    int objects = rp_dwfl_open_all(first);
    ck_assert_int_ge(objects, 3);
    Dwfl *second = rp_dwfl_begin_self();
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(rp_dwfl_open_all(second), objects);
    dwfl_end(second);
    dwfl_end(first);
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
    TCase *debug = tcase_create("debug files");
    tcase_add_checked_fixture(debug, debug_setup, debug_teardown);
    tcase_add_test(debug, build_id_path);
    tcase_add_test(debug, debug_file_found_by_build_id);
    tcase_add_test(debug, debug_file_of_another_build_is_refused);
    tcase_add_test(debug, debug_file_found_by_debuglink);
    suite_add_tcase(s, debug);
    TCase *opened = tcase_create("opened at once");
    tcase_add_checked_fixture(opened, setup, teardown);
    tcase_set_timeout(opened, 120);
    tcase_add_test(opened, objects_opened_at_once_and_sources_named);
    tcase_add_test(opened, files_read_by_a_session_are_not_objects);
    suite_add_tcase(s, opened);
    return s;
}
