/* rp_proc: what /proc says about a thread of this process. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rp_proc.h"
#include "unit_suites.h"
#include "unit_util.h"

static int parse_syscall(const char *text, rp_thread_status_t *st)
{
    /* Garbage first: the parser must fill every field itself. */
    memset(st, 0x5a, sizeof(*st));
    return rp_proc_parse_syscall(text, st);
}

static int parse_stat(const char *text, rp_thread_status_t *st)
{
    memset(st, 0x5a, sizeof(*st));
    return rp_proc_parse_stat(text, st);
}

START_TEST(syscall_running)
{
    rp_thread_status_t st;
    ck_assert_int_eq(parse_syscall("running\n", &st), 1);
    ck_assert_int_eq(st.state, RP_THREAD_RUNNING);
    ck_assert_int_eq(st.has_registers, 0);
    ck_assert_int_eq(parse_syscall("running", &st), 1);
    ck_assert_int_eq(st.state, RP_THREAD_RUNNING);
}
END_TEST

START_TEST(syscall_in_system_call)
{
    rp_thread_status_t st;
    ck_assert_int_eq(
        parse_syscall("230 0x1 0x0 0x7ffd1a2b3c40 0x7ffd1a2b3c40 0x0 0x0 "
                      "0x7ffd1a2b3b08 0x7f55e0ae8545\n",
                      &st),
        1);
    ck_assert_int_eq(st.state, RP_THREAD_BLOCKED);
    ck_assert_int_eq(st.has_registers, 1);
    ck_assert_int_eq(st.syscall, 230);
    ck_assert_uint_eq(st.sp, 0x7ffd1a2b3b08u);
    ck_assert_uint_eq(st.pc, 0x7f55e0ae8545u);
    ck_assert_int_eq(
        parse_syscall("0 0x3 0x7f00 0x100 0x0 0x0 0x0 0x10 0x20", &st), 1);
    ck_assert_int_eq(st.syscall, 0);
    ck_assert_uint_eq(st.sp, 0x10);
    ck_assert_uint_eq(st.pc, 0x20);
    /* Addresses up to the top of the address space. */
    ck_assert_int_eq(parse_syscall("7 0x0 0x0 0x0 0x0 0x0 0x0 "
                                   "0xfffffffffffffff0 0xffffffffffffffff\n",
                                   &st),
                     1);
    ck_assert_uint_eq(st.sp, UINTPTR_MAX - 15);
    ck_assert_uint_eq(st.pc, UINTPTR_MAX);
}
END_TEST

START_TEST(syscall_blocked_outside_system_call)
{
    rp_thread_status_t st;
    ck_assert_int_eq(parse_syscall("-1 0x7ffd1a2b3b08 0x55d0c0de1234\n", &st),
                     1);
    ck_assert_int_eq(st.state, RP_THREAD_BLOCKED);
    ck_assert_int_eq(st.has_registers, 1);
    ck_assert_int_eq(st.syscall, -1);
    ck_assert_uint_eq(st.sp, 0x7ffd1a2b3b08u);
    ck_assert_uint_eq(st.pc, 0x55d0c0de1234u);
}
END_TEST

START_TEST(syscall_malformed)
{
    static const char *bad[] = {
        "",
        "\n",
        "runnin",
        "running now",
        "runningx",
        "abc",
        "-2 0x1 0x2",
        "-1 0x1",
        "-1 0x1 0x2 0x3",
        "-1 0x1 0x2 junk",
        "-1 1 2",
        "-1 0x 0x2",
        "-1 0x1 0x",
        "230 0x1 0x2 0x3 0x4 0x5 0x6 0x7",
        "230 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 0x9",
        "230 0x1 0x2 0x3 0x4 0x5 zz 0x7 0x8",
        "99999999999999999999999 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8",
        "-1 0x10000000000000000 0x2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_thread_status_t st;
        ck_assert_msg(parse_syscall(bad[i], &st) == 0, "accepted \"%s\"",
                      bad[i]);
    }
}
END_TEST

START_TEST(stat_states)
{
    static const struct {
        const char *text;
        rp_thread_state_e state;
    } ok[] = {
        {"1234 (unit_tests) R 1 1234 1234 0 -1", RP_THREAD_RUNNING},
        {"1234 (unit_tests) S 1 1234", RP_THREAD_BLOCKED},
        {"1234 (unit_tests) D 1 1234", RP_THREAD_BLOCKED},
        {"1234 (unit_tests) T 1", RP_THREAD_BLOCKED},
        {"1234 (unit_tests) t 1", RP_THREAD_BLOCKED},
        {"1234 (kworker) I 2", RP_THREAD_BLOCKED},
        /* A command name with spaces and parentheses of its own. */
        {"1234 (a) S (b)) R 1 2", RP_THREAD_RUNNING},
        {"1234 (x y) z) S 1 2", RP_THREAD_BLOCKED},
        {"1234 () R 1", RP_THREAD_RUNNING},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        rp_thread_status_t st;
        ck_assert_msg(parse_stat(ok[i].text, &st) == 1, "refused \"%s\"",
                      ok[i].text);
        ck_assert_msg(st.state == ok[i].state, "\"%s\": state %d", ok[i].text,
                      (int)st.state);
        ck_assert_int_eq(st.has_registers, 0);
        if (st.state == RP_THREAD_BLOCKED) {
            ck_assert_int_eq(st.syscall, -1);
        }
    }
}
END_TEST

START_TEST(stat_malformed)
{
    static const char *bad[] = {
        "",
        "1234",
        "1234 (unit_tests",
        "1234 (unit_tests)",
        "1234 (unit_tests) ",
        "1234 (unit_tests)R",
        "1234 (unit_tests) Z 1",
        "1234 (unit_tests) X 1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_thread_status_t st;
        ck_assert_msg(parse_stat(bad[i], &st) == 0, "accepted \"%s\"", bad[i]);
    }
}
END_TEST

START_TEST(syscall_names)
{
    ck_assert_str_eq(rp_proc_syscall_name(SYS_read), "read");
    ck_assert_str_eq(rp_proc_syscall_name(SYS_futex), "futex");
    ck_assert_str_eq(rp_proc_syscall_name(SYS_epoll_wait), "epoll_wait");
    ck_assert_str_eq(rp_proc_syscall_name(SYS_clock_nanosleep),
                     "clock_nanosleep");
    ck_assert_str_eq(rp_proc_syscall_name(SYS_poll), "poll");
    ck_assert_ptr_null(rp_proc_syscall_name(-1));
    ck_assert_ptr_null(rp_proc_syscall_name(SYS_getpid));
    ck_assert_ptr_null(rp_proc_syscall_name(100000));
}
END_TEST

START_TEST(open_missing_thread)
{
    rp_proc_thread_t t;
    ck_assert_int_eq(rp_proc_open(&t, 0x7fffffff), 0);
    rp_proc_close(&t);
    ck_assert_int_eq(t.stat_fd, -1);
    ck_assert_int_eq(t.syscall_fd, -1);
    rp_proc_close(&t); /* twice: harmless */
    /* Reading closed files says nothing. */
    rp_thread_status_t st;
    rp_proc_read(&t, &st);
    ck_assert_int_eq(st.state, RP_THREAD_UNKNOWN);
}
END_TEST

/* A thread that either spins or blocks in read(2) on a pipe. */
typedef struct proc_thread {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long tid;
    volatile int stop_spinning;
    int pipe_fd[2];
    int spin;
} proc_thread_t;

static void *proc_thread_main(void *arg)
{
    proc_thread_t *t = arg;
    pthread_mutex_lock(&t->lock);
    t->tid = (long)syscall(SYS_gettid);
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    if (t->spin) {
        while (!t->stop_spinning) {
        }
    } else {
        char c;
        while (read(t->pipe_fd[0], &c, 1) < 0 && errno == EINTR) {
        }
    }
    return NULL;
}

static void start_proc_thread(proc_thread_t *t, pthread_t *thread, int spin)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->spin = spin;
    ck_assert_int_eq(pipe(t->pipe_fd), 0);
    ck_assert_int_eq(pthread_create(thread, NULL, proc_thread_main, t), 0);
    pthread_mutex_lock(&t->lock);
    while (t->tid == 0) {
        pthread_cond_wait(&t->cond, &t->lock);
    }
    pthread_mutex_unlock(&t->lock);
}

static void end_proc_thread(proc_thread_t *t, pthread_t thread)
{
    t->stop_spinning = 1;
    ck_assert_int_eq(write(t->pipe_fd[1], "x", 1), 1);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    close(t->pipe_fd[0]);
    close(t->pipe_fd[1]);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
}

/* Polls the thread's status until it is in the wanted state (5 s at most). */
static rp_thread_status_t wait_for_state(const rp_proc_thread_t *pt,
                                         rp_thread_state_e want,
                                         long want_syscall)
{
    rp_thread_status_t st;
    uint64_t end = ut_now_ns(CLOCK_MONOTONIC) + 5000000000ull;
    do {
        rp_proc_read(pt, &st);
        if (st.state == want && (want_syscall < 0 || !st.has_registers ||
                                 st.syscall == want_syscall)) {
            return st;
        }
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    } while (ut_now_ns(CLOCK_MONOTONIC) < end);
    return st;
}

START_TEST(read_blocked_thread)
{
    proc_thread_t t;
    pthread_t thread;
    start_proc_thread(&t, &thread, 0);
    rp_proc_thread_t pt;
    ck_assert_int_eq(rp_proc_open(&pt, t.tid), 1);
    ck_assert_int_ge(pt.stat_fd, 0);
    rp_thread_status_t st = wait_for_state(&pt, RP_THREAD_BLOCKED, SYS_read);
    ck_assert_int_eq(st.state, RP_THREAD_BLOCKED);
    if (pt.syscall_fd >= 0 && !ut_under_valgrind()) {
        /* A dumpable process: the registers of the wait. */
        ck_assert_int_eq(st.has_registers, 1);
        ck_assert_int_eq(st.syscall, SYS_read);
        ck_assert_uint_ne(st.sp, 0);
        ck_assert_uint_ne(st.pc, 0);
        pthread_attr_t attr;
        void *lo;
        size_t size;
        ck_assert_int_eq(pthread_getattr_np(thread, &attr), 0);
        ck_assert_int_eq(pthread_attr_getstack(&attr, &lo, &size), 0);
        pthread_attr_destroy(&attr);
        ck_assert_uint_ge(st.sp, (uintptr_t)lo);
        ck_assert_uint_lt(st.sp, (uintptr_t)lo + size);
    }
    end_proc_thread(&t, thread);
    rp_proc_close(&pt);
}
END_TEST

START_TEST(read_running_thread)
{
    proc_thread_t t;
    pthread_t thread;
    start_proc_thread(&t, &thread, 1);
    rp_proc_thread_t pt;
    ck_assert_int_eq(rp_proc_open(&pt, t.tid), 1);
    rp_thread_status_t st = wait_for_state(&pt, RP_THREAD_RUNNING, -1);
    if (ut_under_valgrind()) {
        /* Valgrind runs one thread at a time: the spinner waits for its
         * turn as often as it runs. */
        ck_assert_int_ne(st.state, RP_THREAD_UNKNOWN);
    } else {
        ck_assert_int_eq(st.state, RP_THREAD_RUNNING);
        ck_assert_int_eq(st.has_registers, 0);
    }
    end_proc_thread(&t, thread);
    rp_proc_close(&pt);
}
END_TEST

Suite *proc_suite(void)
{
    Suite *s = suite_create("rp_proc");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, syscall_running);
    tcase_add_test(tc, syscall_in_system_call);
    tcase_add_test(tc, syscall_blocked_outside_system_call);
    tcase_add_test(tc, syscall_malformed);
    tcase_add_test(tc, stat_states);
    tcase_add_test(tc, stat_malformed);
    tcase_add_test(tc, syscall_names);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 30);
    tcase_add_test(live, open_missing_thread);
    tcase_add_test(live, read_blocked_thread);
    tcase_add_test(live, read_running_thread);
    suite_add_tcase(s, live);
    return s;
}
