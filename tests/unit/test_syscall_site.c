/* rp_syscall_site: finding the call number before a `syscall` instruction,
 * in hand-made code and in this process's own libc. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dlsym, RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/syscall.h>

#include "rp_syscall_site.h"
#include "unit_suites.h"

#define SITE(...)                                                              \
    rp_syscall_site_number((const unsigned char[]){__VA_ARGS__},               \
                           sizeof((const unsigned char[]){__VA_ARGS__}))

START_TEST(immediate_right_before)
{
    /* mov $0x7,%eax */
    ck_assert_int_eq(SITE(0xb8, 0x07, 0x00, 0x00, 0x00), SYS_poll);
    /* xor %eax,%eax (read) */
    ck_assert_int_eq(SITE(0x90, 0x31, 0xc0), SYS_read);
}
END_TEST

START_TEST(moves_in_between)
{
    /* mov $0xca,%eax; xor $0x80,%sil (glibc's lll_lock_wait) */
    ck_assert_int_eq(SITE(0xb8, 0xca, 0x00, 0x00, 0x00, 0x40, 0x80, 0xf6, 0x80),
                     SYS_futex);
    /* mov $0x2d,%eax; mov 0x10(%rsp),%rdx; mov 0x8(%rsp),%rsi (recvfrom) */
    ck_assert_int_eq(SITE(0xb8, 0x2d, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x54, 0x24,
                          0x10, 0x48, 0x8b, 0x74, 0x24, 0x08),
                     SYS_recvfrom);
    /* mov $0x10e,%eax; mov 0x1c(%rsp),%edi (pselect6) */
    ck_assert_int_eq(SITE(0xb8, 0x0e, 0x01, 0x00, 0x00, 0x8b, 0x7c, 0x24, 0x1c),
                     SYS_pselect6);
    /* mov $0x1b9,%eax; mov 0x8(%rsp),%edi (epoll_pwait2) */
    ck_assert_int_eq(SITE(0xb8, 0xb9, 0x01, 0x00, 0x00, 0x8b, 0x7c, 0x24, 0x08),
                     441);
}
END_TEST

START_TEST(eax_overwritten_or_unknown)
{
    /* mov $7,%eax; mov %edi,%eax: the number is gone */
    ck_assert_int_eq(SITE(0xb8, 0x07, 0x00, 0x00, 0x00, 0x89, 0xf8), -1);
    /* mov $7,%eax; mov (%rsp),%eax */
    ck_assert_int_eq(SITE(0xb8, 0x07, 0x00, 0x00, 0x00, 0x8b, 0x04, 0x24), -1);
    /* mov $7,%eax; call rel32: not a plain move */
    ck_assert_int_eq(SITE(0xb8, 0x07, 0x00, 0x00, 0x00, 0xe8, 1, 2, 3, 4), -1);
    /* glibc's syscall(): the number came from %rdi */
    ck_assert_int_eq(SITE(0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6,
                          0x48, 0x89, 0xca, 0x4d, 0x89, 0xc2, 0x4d, 0x89, 0xc8,
                          0x4c, 0x8b, 0x4c, 0x24, 0x08),
                     -1);
    /* mov $7,%r8d (41 b8): another register */
    ck_assert_int_eq(SITE(0x41, 0xb8, 0x07, 0x00, 0x00, 0x00), -1);
    ck_assert_int_eq(rp_syscall_site_number(NULL, 0), -1);
    ck_assert_int_eq(SITE(0x0f), -1);
}
END_TEST

START_TEST(restartable_calls)
{
    ck_assert(rp_syscall_restartable(SYS_poll));
    ck_assert(rp_syscall_restartable(SYS_epoll_wait));
    ck_assert(rp_syscall_restartable(SYS_clock_nanosleep));
    ck_assert(rp_syscall_restartable(SYS_futex));
    ck_assert(rp_syscall_restartable(SYS_recvfrom));
    ck_assert(!rp_syscall_restartable(SYS_connect));
    ck_assert(!rp_syscall_restartable(SYS_rt_sigsuspend));
    ck_assert(!rp_syscall_restartable(SYS_rt_sigtimedwait));
    ck_assert(!rp_syscall_restartable(SYS_pause));
    ck_assert(!rp_syscall_restartable(-1));
}
END_TEST

/* Every `syscall` instruction of a libc function, read
 * with the number each one loads; all must be `expected`. Returns how many
 * were found. */
static int sites_in(const char *function, long expected)
{
    /* libc's own, not a sanitizer's interceptor of the same name. */
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(libc);
    const unsigned char *code = dlsym(libc, function);
    dlclose(libc);
    ck_assert_msg(code != NULL, "%s not found", function);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    ck_assert(dladdr1(code, &info, (void **)&sym, RTLD_DL_SYMENT) != 0);
    ck_assert_ptr_nonnull(sym);
    size_t size = sym->st_size;
    int found = 0;
    /* The window may reach into the code before the function: mapped too. */
    for (size_t at = 0; at + 2 <= size; at++) {
        if (code[at] == 0x0f && code[at + 1] == 0x05) {
            long nr = rp_syscall_site_number(code + at - RP_SYSCALL_SITE_WINDOW,
                                             RP_SYSCALL_SITE_WINDOW);
            ck_assert_msg(nr == expected, "%s+%zu: read %ld, expected %ld",
                          function, at, nr, expected);
            found++;
        }
    }
    return found;
}

START_TEST(this_libc_wrappers)
{
    /* The waits httpd and APR block in, as this machine's libc issues
     * them. */
    ck_assert_int_gt(sites_in("poll", SYS_poll), 0);
    ck_assert_int_gt(sites_in("epoll_wait", SYS_epoll_wait), 0);
    ck_assert_int_gt(sites_in("clock_nanosleep", SYS_clock_nanosleep), 0);
    ck_assert_int_gt(sites_in("recvfrom", SYS_recvfrom), 0);
    ck_assert_int_gt(sites_in("recvmsg", SYS_recvmsg), 0);
    ck_assert_int_gt(sites_in("read", SYS_read), 0);
    ck_assert_int_gt(sites_in("write", SYS_write), 0);
    ck_assert_int_gt(sites_in("accept4", SYS_accept4), 0);
    ck_assert_int_gt(sites_in("epoll_pwait", SYS_epoll_pwait), 0);
    /* connect is read correctly, and is not restarted */
    ck_assert_int_gt(sites_in("connect", SYS_connect), 0);
}
END_TEST

Suite *syscall_site_suite(void)
{
    Suite *s = suite_create("rp_syscall_site");
    TCase *tc = tcase_create("syscall_site");
    tcase_add_test(tc, immediate_right_before);
    tcase_add_test(tc, moves_in_between);
    tcase_add_test(tc, eax_overwritten_or_unknown);
    tcase_add_test(tc, restartable_calls);
    tcase_add_test(tc, this_libc_wrappers);
    suite_add_tcase(s, tc);
    return s;
}
