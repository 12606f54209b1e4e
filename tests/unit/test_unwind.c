/* rp_unwind: unwinding a blocked thread from another thread, from the
 * registers /proc reports, reading only that thread's stack. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <apr_pools.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "rp_proc.h"
#include "rp_symbols.h"
#include "rp_unwind.h"
#include "unit_suites.h"
#include "unit_util.h"

#define BLOCKER_NAME "rp_test_unwind_blocker"
#define OUTER_NAME "rp_test_unwind_outer"

static rp_unwinder_t *unwinder;

static void setup(void)
{
    unwinder = rp_unwinder_create();
    ck_assert_ptr_nonnull(unwinder);
}

static void teardown(void)
{
    rp_unwinder_destroy(unwinder);
    unwinder = NULL;
}

/* ---- a real blocked thread ---------------------------------------------- */

typedef struct blocked {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long tid;
    uintptr_t root_pc; /* the thread's outermost frame */
    int pipe_fd[2];
} blocked_t;

/* Under AddressSanitizer read() goes through libasan's interceptor, whose
 * unwind information does not always lead back to its caller (one run in a
 * few stops there): the unwinder would be tested on libasan, not on the
 * frames a server has. There the blocker enters the system call through
 * syscall(2), which libasan leaves alone. */
#if defined(__SANITIZE_ADDRESS__)
#define BLOCKING_READ(fd, buf, n) syscall(SYS_read, (fd), (buf), (n))
#else
#define BLOCKING_READ(fd, buf, n) read((fd), (buf), (n))
#endif

/* Blocks in read(2) until the test writes to the pipe. */
__attribute__((noinline)) static int rp_test_unwind_blocker(int fd)
{
    char c = 0;
    ssize_t n;
    while ((n = BLOCKING_READ(fd, &c, 1)) < 0 && errno == EINTR) {
    }
    __asm__ volatile("" : "+r"(n));
    return (int)n + c;
}

static int (*volatile blocker_fn)(int) = rp_test_unwind_blocker;

__attribute__((noinline)) static int rp_test_unwind_outer(blocked_t *b)
{
    int r = blocker_fn(b->pipe_fd[0]);
    __asm__ volatile("" : "+r"(r));
    return r + 1;
}

static int (*volatile outer_fn)(blocked_t *) = rp_test_unwind_outer;

static void *blocked_main(void *arg)
{
    blocked_t *b = arg;
    void *frames[64];
    int n = unw_backtrace(frames, 64);
    pthread_mutex_lock(&b->lock);
    b->root_pc = n > 0 && n < 64 ? (uintptr_t)frames[n - 1] : 0;
    b->tid = (long)syscall(SYS_gettid);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    outer_fn(b);
    return NULL;
}

static int name_is(const rp_func_t *f, const char *base)
{
    size_t n = strlen(base);
    return strncmp(f->name, base, n) == 0 &&
           (f->name[n] == '\0' || f->name[n] == '.');
}

START_TEST(unwind_blocked_thread)
{
    blocked_t b;
    memset(&b, 0, sizeof(b));
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    ck_assert_int_eq(pipe(b.pipe_fd), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, blocked_main, &b), 0);
    pthread_mutex_lock(&b.lock);
    while (b.tid == 0) {
        pthread_cond_wait(&b.cond, &b.lock);
    }
    pthread_mutex_unlock(&b.lock);

    rp_proc_thread_t pt;
    ck_assert_int_eq(rp_proc_open(&pt, b.tid), 1);
    rp_thread_status_t st;
    uint64_t end = ut_now_ns(CLOCK_MONOTONIC) + 5000000000ull;
    do {
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
        rp_proc_read(&pt, &st);
    } while (!(st.state == RP_THREAD_BLOCKED && st.has_registers &&
               st.syscall == SYS_read) &&
             ut_now_ns(CLOCK_MONOTONIC) < end);

    int depth = -1;
    uintptr_t ips[RP_STACK_CHECK_WORDS];
    rp_stack_check_t check;
    memset(&check, 0, sizeof(check));
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    ck_assert_int_eq(pthread_getattr_np(thread, &attr), 0);
    ck_assert_int_eq(pthread_attr_getstack(&attr, &lo, &size), 0);
    pthread_attr_destroy(&attr);
    if (st.has_registers) {
        rp_blocked_thread_t bt = {.tid = (pid_t)b.tid,
                                  .pc = st.pc,
                                  .sp = st.sp,
                                  .stack_lo = (uintptr_t)lo,
                                  .stack_hi = (uintptr_t)lo + size,
                                  .root_pc = b.root_pc};
        depth = rp_unwinder_unwind(unwinder, &bt, ips, 64, &check);
        ck_assert_int_ge(depth, 0);
        ck_assert_int_le(depth, 64);
        if (depth > 0) {
            ck_assert_uint_eq(ips[0], st.pc);
        }
    }
    /* While the thread waits, what the unwinder read stays valid. */
    int valid_while_blocked =
        depth > 0 ? rp_stack_check_still_valid(&check) : 1;

    ck_assert_int_eq(write(b.pipe_fd[1], "x", 1), 1);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    rp_proc_close(&pt);
    close(b.pipe_fd[0]);
    close(b.pipe_fd[1]);
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);

    if (ut_under_valgrind()) {
        /* /proc reports valgrind's own registers, not the program's: there
         * is nothing to find, only nothing to break. */
        return;
    }
    ck_assert_msg(st.state == RP_THREAD_BLOCKED && st.has_registers,
                  "thread never seen blocked in read (state %d)",
                  (int)st.state);
    ck_assert_int_eq(valid_while_blocked, 1);
    ck_assert_msg(depth >= 3, "unwound %d frames", depth);
    /* Through the frames that need the frame pointer /proc does not give,
     * to the thread's outermost frame. */
    ck_assert_uint_ne(b.root_pc, 0);
    ck_assert_uint_eq(ips[depth - 1], b.root_pc);
    ck_assert_int_gt(check.count, 0);
    apr_pool_t *pool;
    rp_symbols_t *symbols;
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(rp_symbols_create(&symbols, pool), APR_SUCCESS);
    int blocker_at = -1;
    int outer_at = -1;
    for (int i = 0; i < depth; i++) {
        const rp_func_t *f = rp_symbols_lookup(symbols, ips[i], i > 0);
        if (blocker_at < 0 && name_is(f, BLOCKER_NAME)) {
            blocker_at = i;
        }
        if (outer_at < 0 && name_is(f, OUTER_NAME)) {
            outer_at = i;
        }
    }
    apr_pool_destroy(pool);
    ck_assert_msg(blocker_at > 0, BLOCKER_NAME " not in the stack");
    ck_assert_msg(outer_at == blocker_at + 1,
                  OUTER_NAME " at %d, " BLOCKER_NAME " at %d", outer_at,
                  blocker_at);
}
END_TEST

/* ---- a made-up stack ------------------------------------------------------
 */

static volatile uintptr_t return_address;

__attribute__((noinline)) static void rp_test_unwind_note_return(void)
{
    return_address = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

/* A frame-pointer function: at the return address of its call, its CFA is
 * rbp + 16, so unwinding through it follows the saved frame pointers. */
__attribute__((noinline)) static int rp_test_unwind_framed(int x)
{
    volatile int local = x;
    rp_test_unwind_note_return();
    return local + 1;
}

static int (*volatile framed_fn)(int) = rp_test_unwind_framed;

START_TEST(stays_inside_the_stack)
{
    /* A stack of frame records whose last saved frame pointer is -16: the
     * next frame's CFA is 0 and its return address would be read at -8,
     * far outside the stack. The unwinder must stop there, not fault. */
    framed_fn(1);
    uintptr_t r = return_address;
    ck_assert_uint_ne(r, 0);
    static uintptr_t stack[64];
    memset(stack, 0, sizeof(stack));
    stack[0] = (uintptr_t)&stack[4]; /* saved rbp: the next record */
    stack[1] = r;                    /* return address */
    stack[4] = (uintptr_t)-16;       /* saved rbp of the outermost record */
    stack[5] = r;
    rp_blocked_thread_t bt = {.tid = (pid_t)syscall(SYS_gettid),
                              .pc = r,
                              .sp = (uintptr_t)&stack[0],
                              .stack_lo = (uintptr_t)&stack[0],
                              .stack_hi = (uintptr_t)&stack[64],
                              .root_pc = 1 /* never reached */};
    uintptr_t ips[32];
    rp_stack_check_t check;
    int depth = rp_unwinder_unwind(unwinder, &bt, ips, 32, &check);
    ck_assert_int_ge(depth, 1);
    ck_assert_int_le(depth, 32);
    ck_assert_uint_eq(ips[0], r);
    /* Only words of the made-up stack were read. */
    ck_assert_int_le(check.count, RP_STACK_CHECK_WORDS);
    for (int i = 0; i < check.count; i++) {
        ck_assert_uint_ge(check.addr[i], (uintptr_t)&stack[0]);
        ck_assert_uint_lt(check.addr[i], (uintptr_t)&stack[64]);
    }
}
END_TEST

START_TEST(bad_arguments)
{
    uintptr_t ips[4];
    rp_blocked_thread_t bt = {.tid = (pid_t)syscall(SYS_gettid)};
    ck_assert_int_eq(rp_unwinder_unwind(NULL, &bt, ips, 4, NULL), 0);
    ck_assert_int_eq(rp_unwinder_unwind(unwinder, &bt, ips, 0, NULL), 0);
    rp_unwinder_destroy(NULL);
    /* A stack of nothing: pc 0, empty bounds. */
    ck_assert_int_le(rp_unwinder_unwind(unwinder, &bt, ips, 4, NULL), 1);
}
END_TEST

/* ---- stack checks ----------------------------------------------------------
 */

START_TEST(stack_check)
{
    static uintptr_t words[4] = {1, 2, 3, 4};
    rp_stack_check_t c;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(rp_stack_check_still_valid(&c), 1); /* nothing read */
    for (int i = 0; i < 4; i++) {
        c.addr[i] = (uintptr_t)&words[i];
        c.value[i] = words[i];
    }
    c.count = 4;
    ck_assert_int_eq(rp_stack_check_still_valid(&c), 1);
    words[3] = 40;
    ck_assert_int_eq(rp_stack_check_still_valid(&c), 0);
    words[3] = 4;
    ck_assert_int_eq(rp_stack_check_still_valid(&c), 1);
    words[0] = 10;
    ck_assert_int_eq(rp_stack_check_still_valid(&c), 0);
    words[0] = 1;
    /* More words were read than kept: it cannot vouch for the stack. */
    c.overflow = 1;
    ck_assert_int_eq(rp_stack_check_still_valid(&c), 0);
}
END_TEST

Suite *unwind_suite(void)
{
    Suite *s = suite_create("rp_unwind");
    TCase *tc = tcase_create("unwind");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stack_check);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, stays_inside_the_stack);
    tcase_add_test(tc, unwind_blocked_thread);
    suite_add_tcase(s, tc);
    return s;
}
