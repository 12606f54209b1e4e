/* rp_sampler: sampling the stacks of the threads that ask for it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_sigqueue */
#endif
#include <apr_pools.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <semaphore.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rp_sampler.h"
#include "rp_symbols.h"
#include "unit_suites.h"
#include "unit_util.h"

#define BURN_NAME "rp_test_sampler_burn"
#define CALLER_NAME "rp_test_sampler_caller"
#define SLEEPER_NAME "rp_test_sampler_sleeper"

static apr_pool_t *pool;
static rp_symbols_t *symbols;
static sigset_t mask_at_setup;

/* Spins until ns have passed on clock. The loop body is where the samples
 * land; the clock is read only between long batches. */
__attribute__((noinline)) static uint64_t rp_test_sampler_burn(uint64_t ns,
                                                               clockid_t clock)
{
    static volatile uint64_t sink;
    uint64_t end = ut_now_ns(clock) + ns;
    uint64_t x = sink + 1;
    do {
        for (int i = 0; i < 20000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            x ^= x >> 29;
        }
        ut_let_others_run();
    } while (ut_now_ns(clock) < end);
    sink = x;
    return x;
}

/* Called only through these pointers, so the compiler neither inlines nor
 * clones them: their symbols keep these exact names. */
static uint64_t (*volatile burn_fn)(uint64_t, clockid_t) = rp_test_sampler_burn;

__attribute__((noinline)) static uint64_t
rp_test_sampler_caller(uint64_t ns, clockid_t clock)
{
    /* Not a tail call: the frame stays on the stack while burn runs. */
    uint64_t r = burn_fn(ns, clock);
    __asm__ volatile("" : "+r"(r));
    return r + 1;
}

static uint64_t (*volatile caller_fn)(uint64_t,
                                      clockid_t) = rp_test_sampler_caller;

/* Recurses n frames deep, then burns. */
__attribute__((noinline)) static uint64_t rp_test_sampler_deep(unsigned n,
                                                               uint64_t ns)
{
    volatile unsigned char frame[16];
    frame[0] = (unsigned char)n;
    uint64_t r =
        n == 0 ? burn_fn(ns, CLOCK_MONOTONIC) : rp_test_sampler_deep(n - 1, ns);
    return r + frame[0];
}

static uint64_t (*volatile deep_fn)(unsigned, uint64_t) = rp_test_sampler_deep;

/* Blocks in one long sleep (resumed if a signal interrupts it). */
__attribute__((noinline)) static int rp_test_sampler_sleeper(unsigned ms)
{
    struct timespec nap = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int interrupted = 0;
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR) {
        interrupted++;
    }
    __asm__ volatile("" : "+r"(interrupted));
    return interrupted;
}

static int (*volatile sleeper_fn)(unsigned) = rp_test_sampler_sleeper;

static uint64_t burn_ms(unsigned ms, clockid_t clock)
{
    return caller_fn((uint64_t)ms * 1000000u, clock);
}

/* Under valgrind, which runs one thread at a time, the sampler thread gets
 * its turn irregularly: a session that shows too little is run again (up to
 * ten times) before the test judges it. Elsewhere one session must do. */
static int try_again(int attempt, int enough)
{
    return !enough && ut_under_valgrind() && attempt < 9;
}

/* How long a test burns: far less under valgrind. */
static unsigned scaled_ms(unsigned ms)
{
    return ut_under_valgrind() ? ms / 3 : ms;
}

static void setup(void)
{
    ck_assert_int_eq(rp_sampler_init_process(UT_SIGNAL, UT_ARENA_BYTES),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(rp_symbols_create(&symbols, pool), APR_SUCCESS);
    /* Every test starts with the sampling signal unblocked, as a fresh
     * thread has it, and must leave the mask as it found it. */
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

static sigset_t current_mask(void)
{
    sigset_t now;
    sigemptyset(&now);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    return now;
}

static int same_mask(const sigset_t *a, const sigset_t *b)
{
    for (int signo = 1; signo <= SIGRTMAX; signo++) {
        if (sigismember(a, signo) != sigismember(b, signo)) {
            return 0;
        }
    }
    return 1;
}

/* name is base, or a compiler clone of it ("base.constprop.0"). */
static int name_is(const rp_func_t *f, const char *base)
{
    size_t n = strlen(base);
    return strncmp(f->name, base, n) == 0 &&
           (f->name[n] == '\0' || f->name[n] == '.');
}

typedef struct scan {
    unsigned samples;
    uint64_t weight;
    unsigned truncated;
    unsigned max_depth;
    uint64_t bytes;   /* buffer space the samples take */
    unsigned waiting; /* samples of a blocked thread */
    uint64_t wait_weight;
    unsigned in_sleeper;     /* waiting samples under the sleeper function */
    unsigned in_burn;        /* samples with the burn function on the stack */
    unsigned burn_innermost; /* ...as the interrupted function itself */
    unsigned burn_in_caller; /* ...called from rp_test_sampler_caller */
} scan_t;

/* Walks the recorded samples, checks what every sample must satisfy, and
 * counts where they landed. */
static scan_t scan_samples(const rp_sampler_t *s)
{
    scan_t r;
    memset(&r, 0, sizeof(r));
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    for (const rp_sample_t *x = rp_sampler_next(s, NULL); x != NULL;
         x = rp_sampler_next(s, x)) {
        ck_assert_uint_ge(x->depth, 1);
        ck_assert_uint_le(x->depth, RP_MAX_DEPTH);
        ck_assert_uint_ge(x->weight, 1);
        ck_assert_uint_le(x->t_ns, st.wall_ns);
        ck_assert_uint_eq(
            x->flags & ~(unsigned)(RP_SAMPLE_TRUNCATED | RP_SAMPLE_WAITING), 0);
        if (x->flags & RP_SAMPLE_WAITING) {
            r.waiting++;
            r.wait_weight += x->weight;
            ck_assert_int_ge(x->syscall, -1);
        } else {
            /* Only a blocked thread has a system call to name. */
            ck_assert_int_eq(x->syscall, -1);
        }
        r.samples++;
        r.weight += x->weight;
        r.bytes += sizeof(rp_sample_t) + x->depth * sizeof(uintptr_t);
        if (x->flags & RP_SAMPLE_TRUNCATED) {
            r.truncated++;
        }
        if (x->depth > r.max_depth) {
            r.max_depth = x->depth;
        }
        int burn_at = -1;
        int sleeper = 0;
        for (unsigned i = 0; i < x->depth; i++) {
            ck_assert_uint_ne(x->ips[i], 0);
            const rp_func_t *f = rp_symbols_lookup(symbols, x->ips[i], i > 0);
            sleeper |= name_is(f, SLEEPER_NAME);
            if (burn_at < 0 && name_is(f, BURN_NAME)) {
                burn_at = (int)i;
            } else if (burn_at >= 0 && (unsigned)burn_at == i - 1 &&
                       name_is(f, CALLER_NAME)) {
                r.burn_in_caller++;
            }
        }
        if (burn_at >= 0) {
            r.in_burn++;
        }
        if (sleeper && (x->flags & RP_SAMPLE_WAITING)) {
            r.in_sleeper++;
        }
        if (burn_at == 0) {
            r.burn_innermost++;
        }
    }
    ck_assert_uint_eq(r.samples, st.samples);
    ck_assert_uint_eq(r.weight, st.weight);
    ck_assert_uint_eq(r.wait_weight, st.wait_weight);
    /* Every stack of a running thread was answered to a signal. */
    ck_assert_uint_le(r.samples - r.waiting, st.signals);
    ck_assert_uint_le(st.wait_signals, st.signals);
    return r;
}

START_TEST(init_rejects_bad_signal)
{
    ck_assert_int_eq(rp_sampler_init_process(SIGUSR1, UT_ARENA_BYTES),
                     APR_EINVAL);
    ck_assert_int_eq(rp_sampler_init_process(SIGRTMIN - 1, UT_ARENA_BYTES),
                     APR_EINVAL);
    ck_assert_int_eq(rp_sampler_init_process(SIGRTMAX + 1, UT_ARENA_BYTES),
                     APR_EINVAL);
    ck_assert_int_eq(rp_sampler_init_process(0, UT_ARENA_BYTES), APR_EINVAL);
    /* Idempotent once initialised. */
    ck_assert_int_eq(rp_sampler_init_process(UT_SIGNAL, UT_ARENA_BYTES),
                     APR_SUCCESS);
}
END_TEST

/* Another module's handler on the sampling signal (its own timer) stays
 * in place: init refuses the signal, and a session refuses to start once
 * the sampler's handler has been replaced, so no sample request ever
 * reaches the other handler. */
static volatile sig_atomic_t foreign_handler_calls;

static void foreign_handler(int signo)
{
    (void)signo;
    foreign_handler_calls++;
}

START_TEST(refuses_signal_another_handler_holds)
{
    struct sigaction foreign, ours, now;
    memset(&foreign, 0, sizeof foreign);
    foreign.sa_handler = foreign_handler;
    sigemptyset(&foreign.sa_mask);
    ck_assert_int_eq(sigaction(UT_SIGNAL, &foreign, &ours), 0);
    foreign_handler_calls = 0;

    ck_assert_int_eq(rp_sampler_init_process(UT_SIGNAL, UT_ARENA_BYTES),
                     RP_SAMPLER_SIGNAL_TAKEN);
    ck_assert_int_eq(sigaction(UT_SIGNAL, NULL, &now), 0);
    ck_assert_ptr_eq((void *)now.sa_handler, (void *)foreign_handler);

    rp_sampler_t *s = rp_sampler_for_this_thread();
    sigset_t before = current_mask();
    uint64_t session = 0;
    ck_assert_int_eq(rp_sampler_start(s, RP_CLOCK_WALL, 1000, &session),
                     RP_SAMPLER_SIGNAL_TAKEN);
    ck_assert_int_eq(rp_sampler_is_active(s), 0);
    sigset_t after = current_mask();
    ck_assert(same_mask(&before, &after));
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    ck_assert_int_eq(foreign_handler_calls, 0);
    ck_assert_int_eq(sigaction(UT_SIGNAL, NULL, &now), 0);
    ck_assert_ptr_eq((void *)now.sa_handler, (void *)foreign_handler);

    /* The handler's own signal still reaches it. */
    ck_assert_int_eq(pthread_kill(pthread_self(), UT_SIGNAL), 0);
    ck_assert_int_eq(foreign_handler_calls, 1);

    /* Its handler back, the sampler samples again. */
    ck_assert_int_eq(sigaction(UT_SIGNAL, &ours, NULL), 0);
    ck_assert_int_eq(rp_sampler_init_process(UT_SIGNAL, UT_ARENA_BYTES),
                     APR_SUCCESS);
    rp_sampler_stats_t st;
    for (int attempt = 0;; attempt++) {
        ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session),
                         APR_SUCCESS);
        burn_ms(scaled_ms(40), CLOCK_MONOTONIC);
        ut_stop(s, session);
        rp_sampler_stats(s, &st);
        if (!try_again(attempt, st.samples > 0)) {
            break;
        }
    }
    ck_assert_uint_gt(st.samples, 0);
    ck_assert_int_eq(foreign_handler_calls, 1);
}
END_TEST

START_TEST(one_sampler_per_thread)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_eq(rp_sampler_for_this_thread(), s);
    ck_assert_int_eq(rp_sampler_is_active(s), 0);
    ck_assert_uint_eq(rp_sampler_session(s), 0);
    ck_assert_uint_eq(rp_sampler_session(NULL), 0);
    ck_assert_int_eq(rp_sampler_is_active(NULL), 0);
    uint64_t session = 0;
    ck_assert_int_eq(rp_sampler_start(NULL, RP_CLOCK_WALL, 1000, &session),
                     APR_EINVAL);
    rp_sampler_stop(NULL, 1); /* harmless */
    /* An interval must be positive. */
    ck_assert_int_eq(rp_sampler_start(s, RP_CLOCK_WALL, 0, &session),
                     APR_EINVAL);
    ck_assert_int_eq(rp_sampler_start(s, RP_CLOCK_CPU, -1000, &session),
                     APR_EINVAL);
    ck_assert_int_eq(rp_sampler_is_active(s), 0);
}
END_TEST

START_TEST(wall_clock_session)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    ck_assert_ptr_nonnull(s);
    unsigned ms = ut_under_valgrind() ? 50 : 150;
    rp_sampler_stats_t st;
    scan_t r;
    for (int attempt = 0;; attempt++) {
        uint64_t session = 0;
        ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session),
                         APR_SUCCESS);
        ck_assert_uint_ne(session, 0);
        ck_assert_int_eq(rp_sampler_is_active(s), 1);
        ck_assert_uint_eq(rp_sampler_session(s), session);
        burn_ms(ms, CLOCK_MONOTONIC);
        ut_stop(s, session);
        ck_assert_int_eq(rp_sampler_is_active(s), 0);
        ck_assert_uint_eq(rp_sampler_session(s), 0);
        rp_sampler_stats(s, &st);
        r = scan_samples(s);
        if (!try_again(attempt, st.samples > 0)) {
            break;
        }
    }

    ck_assert_int_eq(st.clock, RP_CLOCK_WALL);
    ck_assert_int_eq(st.interval_us, 1000);
    ck_assert_uint_ge(st.wall_ns, (uint64_t)ms * 1000000u);
    ck_assert_uint_gt(st.cpu_ns, 0);
    ck_assert_uint_le(st.cpu_ns, st.wall_ns + 10000000u);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_uint_ge(st.weight, st.samples);
    /* No more intervals than fit in the time. */
    ck_assert_uint_le(st.weight, st.wall_ns / 1000000u + 1);
    ck_assert_uint_gt(st.samples, 0);
    if (ut_under_valgrind()) {
        /* Valgrind's thread switching makes the burning thread look
         * blocked to /proc, and /proc shows valgrind's registers, not the
         * program's: what the samples contain means nothing there. */
        return;
    }
    /* Intervals the thread or the sampler thread were late for join the
     * next sample: on a busy machine there are fewer samples, but the
     * weight still covers the time. */
    ck_assert_msg(st.samples >= ms / 5, "%u samples in %u ms", st.samples, ms);
    ck_assert_msg(st.weight >= ms / 2, "weight %llu in %u ms",
                  (unsigned long long)st.weight, ms);

    ck_assert_msg(r.in_burn > 0, "no sample in " BURN_NAME " (of %u)",
                  r.samples);
    ck_assert_uint_gt(r.burn_innermost, 0);
    /* The unwinder crossed the signal frame: most samples are in burn,
     * with its caller below it. */
    ck_assert_msg(r.in_burn >= r.samples / 2, "%u of %u samples in burn",
                  r.in_burn, r.samples);
    ck_assert_uint_gt(r.burn_in_caller, 0);
    ck_assert_uint_gt(r.max_depth, 3);
    ck_assert_uint_lt(r.truncated, r.samples);
    /* A thread on CPU is sampled by signal, not as a waiting one. */
    ck_assert_msg(r.waiting <= r.samples / 10, "%u of %u samples waiting",
                  r.waiting, r.samples);
}
END_TEST

START_TEST(cpu_clock_session)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    unsigned ms = ut_under_valgrind() ? 50 : 150;
    rp_sampler_stats_t st;
    scan_t r;
    for (int attempt = 0;; attempt++) {
        uint64_t session = 0;
        ck_assert_int_eq(ut_start(s, RP_CLOCK_CPU, 1000, &session),
                         APR_SUCCESS);
        burn_ms(ms, CLOCK_THREAD_CPUTIME_ID);
        ut_stop(s, session);
        rp_sampler_stats(s, &st);
        r = scan_samples(s);
        if (!try_again(attempt, st.samples > 0)) {
            break;
        }
    }
    ck_assert_int_eq(st.clock, RP_CLOCK_CPU);
    ck_assert_uint_ge(st.cpu_ns, (uint64_t)ms * 1000000u);
    ck_assert_uint_ge(st.wall_ns, st.cpu_ns - 1000000u);
    ck_assert_uint_ge(st.weight, st.samples);
    /* At most one interval per interval of CPU time. */
    ck_assert_uint_le(st.weight, st.cpu_ns / 1000000u + 1);
    /* The CPU clock never counts waiting time. */
    ck_assert_uint_eq(st.wait_weight, 0);
    ck_assert_uint_eq(r.waiting, 0);
    if (ut_under_valgrind()) {
        /* The thread never looks on CPU to /proc there (see above). */
        return;
    }
    ck_assert_uint_gt(st.samples, 0);
    ck_assert_msg(st.weight >= ms / 2, "weight %llu for %u ms",
                  (unsigned long long)st.weight, ms);
    ck_assert_uint_gt(r.in_burn, 0);
    ck_assert_msg(r.in_burn >= r.samples / 2, "%u of %u samples in burn",
                  r.in_burn, r.samples);
}
END_TEST

START_TEST(cpu_clock_ignores_sleep)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_CPU, 1000, &session), APR_SUCCESS);
    sleeper_fn(60);
    ut_stop(s, session);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    ck_assert_int_eq(st.clock, RP_CLOCK_CPU);
    ck_assert_uint_ge(st.wall_ns, 60000000u);
    /* A sleeping thread uses (almost) no CPU, so (almost) no samples, and
     * none of waiting time. */
    ck_assert_uint_le(st.weight, st.cpu_ns / 1000000u + 1);
    ck_assert_uint_lt(st.weight, 20);
    ck_assert_uint_eq(st.wait_weight, 0);
    ck_assert_uint_eq(st.wait_signals, 0);
    scan_t r = scan_samples(s);
    ck_assert_uint_eq(r.waiting, 0);
}
END_TEST

START_TEST(wall_clock_counts_sleep)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    rp_sampler_stats_t st;
    scan_t r;
    for (int attempt = 0;; attempt++) {
        uint64_t session = 0;
        ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 2000, &session),
                         APR_SUCCESS);
        sleeper_fn(80);
        ut_stop(s, session);
        rp_sampler_stats(s, &st);
        r = scan_samples(s);
        if (!try_again(attempt, st.samples > 0)) {
            break;
        }
    }
    ck_assert_int_eq(st.interval_us, 2000);
    ck_assert_uint_ge(st.wall_ns, 80000000u);
    ck_assert_uint_le(st.weight, st.wall_ns / 2000000u + 1);
    ck_assert_uint_le(st.wait_weight, st.weight);
    ck_assert_uint_gt(st.samples, 0);
    if (ut_under_valgrind()) {
        return;
    }
    /* Asleep for 40 intervals: most of them are waiting time... */
    ck_assert_msg(st.wait_weight >= 20, "%llu of %llu intervals waiting",
                  (unsigned long long)st.wait_weight,
                  (unsigned long long)st.weight);
    ck_assert_uint_gt(r.waiting, 0);
    /* ...with the stack of the sleeping code, without a signal for each
     * interval. */
    ck_assert_msg(r.in_sleeper > 0, "no waiting sample under " SLEEPER_NAME);
    ck_assert_uint_lt(st.wait_signals, 10);
    if (st.proc_readable) {
        ck_assert_uint_gt(st.remote_unwinds, 0);
        int named = 0;
        for (const rp_sample_t *x = rp_sampler_next(s, NULL); x != NULL;
             x = rp_sampler_next(s, x)) {
            named |= (x->flags & RP_SAMPLE_WAITING) && x->syscall >= 0;
        }
        ck_assert_msg(named, "no waiting sample names its system call");
    }
}
END_TEST

START_TEST(start_twice_is_busy)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t first = 0;
    uint64_t second = 12345;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &first), APR_SUCCESS);
    ck_assert_int_eq(ut_start(s, RP_CLOCK_CPU, 500, &second), APR_EBUSY);
    ck_assert_uint_eq(second, 12345);
    ck_assert_uint_eq(rp_sampler_session(s), first);
    burn_ms(scaled_ms(20), CLOCK_MONOTONIC);
    ut_stop(s, first);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    /* The refused start changed nothing. */
    ck_assert_int_eq(st.clock, RP_CLOCK_WALL);
    ck_assert_int_eq(st.interval_us, 1000);
    ck_assert_uint_ge(st.wall_ns, scaled_ms(20) * 1000000ull);
}
END_TEST

START_TEST(stop_twice_and_stale_sessions)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t one = 0;
    uint64_t two = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &one), APR_SUCCESS);
    burn_ms(scaled_ms(10), CLOCK_MONOTONIC);
    ut_stop(s, one);
    rp_sampler_stats_t after_first;
    rp_sampler_stats(s, &after_first);
    sigset_t mask_after_first = current_mask();
    ut_stop(s, one); /* again: harmless */
    ut_stop(s, 0);
    rp_sampler_stats_t again;
    rp_sampler_stats(s, &again);
    ck_assert_uint_eq(again.wall_ns, after_first.wall_ns);
    ck_assert_uint_eq(again.samples, after_first.samples);
    sigset_t mask_after_again = current_mask();
    ck_assert(same_mask(&mask_after_first, &mask_after_again));

    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &two), APR_SUCCESS);
    ck_assert_uint_gt(two, one);
    /* A late cleanup of the first session must not end the second. */
    ut_stop(s, one);
    ck_assert_int_eq(rp_sampler_is_active(s), 1);
    ck_assert_uint_eq(rp_sampler_session(s), two);
    ut_stop(s, two + 1);
    ck_assert_int_eq(rp_sampler_is_active(s), 1);
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    rp_sampler_stats_t running;
    rp_sampler_stats(s, &running);
    ut_stop(s, two);
    ck_assert_int_eq(rp_sampler_is_active(s), 0);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    ck_assert_uint_ge(st.wall_ns, scaled_ms(30) * 1000000ull);
    ck_assert_uint_ge(st.samples, running.samples);
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(st.samples, 0);
    }
    scan_samples(s);
}
END_TEST

START_TEST(sessions_are_numbered)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t prev = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t session = 0;
        ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session),
                         APR_SUCCESS);
        ck_assert_uint_gt(session, prev);
        ck_assert_uint_eq(rp_sampler_session(s), session);
        ut_stop(s, session);
        ck_assert_uint_eq(rp_sampler_session(s), 0);
        prev = session;
    }
}
END_TEST

START_TEST(counters_reset_at_start)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    ut_stop(s, session);
    /* A second session with an interval too long to fire: nothing of the
     * first one may remain. */
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000000, &session),
                     APR_SUCCESS);
    ut_stop(s, session);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    ck_assert_uint_eq(st.samples, 0);
    ck_assert_uint_eq(st.weight, 0);
    ck_assert_int_eq(st.interval_us, 1000000);
    ck_assert_ptr_null(rp_sampler_next(s, NULL));
}
END_TEST

START_TEST(foreign_signals_are_ignored)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    /* An interval that never expires within the test: any sample would
     * come from the signals sent by hand. */
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000000, &session),
                     APR_SUCCESS);
    union sigval value;
    value.sival_ptr = s;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(pthread_sigqueue(pthread_self(), UT_SIGNAL, value), 0);
        ck_assert_int_eq(raise(UT_SIGNAL), 0);
        ck_assert_int_eq(pthread_kill(pthread_self(), UT_SIGNAL), 0);
    }
    value.sival_ptr = NULL;
    ck_assert_int_eq(pthread_sigqueue(pthread_self(), UT_SIGNAL, value), 0);
    ut_stop(s, session);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    ck_assert_uint_eq(st.samples, 0);
    ck_assert_uint_eq(st.weight, 0);
}
END_TEST

START_TEST(signal_after_stop_is_harmless)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(scaled_ms(20), CLOCK_MONOTONIC);
    ut_stop(s, session);
    rp_sampler_stats_t before;
    rp_sampler_stats(s, &before);

    /* The signal is unblocked again (as before start): delivered now. */
    sigset_t mask = current_mask();
    ck_assert_int_eq(sigismember(&mask, UT_SIGNAL), 0);
    union sigval value;
    value.sival_ptr = s;
    ck_assert_int_eq(raise(UT_SIGNAL), 0);
    ck_assert_int_eq(pthread_kill(pthread_self(), UT_SIGNAL), 0);
    ck_assert_int_eq(pthread_sigqueue(pthread_self(), UT_SIGNAL, value), 0);
    /* Nothing pending: the handler consumed them. */
    sigset_t pending;
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert_int_eq(sigismember(&pending, UT_SIGNAL), 0);

    /* Keep running a while, in case a timer were still armed. */
    burn_ms(scaled_ms(20), CLOCK_MONOTONIC);
    rp_sampler_stats_t after;
    rp_sampler_stats(s, &after);
    ck_assert_uint_eq(after.samples, before.samples);
    ck_assert_uint_eq(after.weight, before.weight);
    ck_assert_uint_eq(after.wall_ns, before.wall_ns);
    ck_assert_int_eq(rp_sampler_is_active(s), 0);
}
END_TEST

START_TEST(mask_restored_when_unblocked)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    sigset_t before = current_mask();
    ck_assert_int_eq(sigismember(&before, UT_SIGNAL), 0);
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(scaled_ms(10), CLOCK_MONOTONIC);
    ut_stop(s, session);
    sigset_t after = current_mask();
    ck_assert(same_mask(&before, &after));
}
END_TEST

START_TEST(mask_restored_when_blocked)
{
    /* A thread that blocks the sampling signal (and others) gets it
     * unblocked only while a session runs. */
    rp_sampler_t *s = rp_sampler_for_this_thread();
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, UT_SIGNAL);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGRTMIN + 7);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);
    sigset_t before = current_mask();

    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    sigset_t during = current_mask();
    ck_assert_int_eq(sigismember(&during, UT_SIGNAL), 0);
    ck_assert_int_eq(sigismember(&during, SIGUSR2), 1);
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    ut_stop(s, session);
    sigset_t after = current_mask();
    ck_assert(same_mask(&before, &after));
    ck_assert_int_eq(sigismember(&after, UT_SIGNAL), 1);
    /* Nothing of the timer is left pending. */
    sigset_t pending;
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert_int_eq(sigismember(&pending, UT_SIGNAL), 0);

    rp_sampler_stats_t stopped;
    rp_sampler_stats(s, &stopped);
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(stopped.samples, 0);
    }
    /* A signal sent now stays pending (blocked): consume it by hand. */
    ck_assert_int_eq(raise(UT_SIGNAL), 0);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert_int_eq(sigismember(&pending, UT_SIGNAL), 1);
    struct timespec no_wait = {0, 0};
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, UT_SIGNAL);
    ck_assert_int_eq(sigtimedwait(&only, NULL, &no_wait), UT_SIGNAL);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    ck_assert_uint_eq(st.samples, stopped.samples);
    ck_assert_uint_eq(st.weight, stopped.weight);
    /* teardown restores the mask of setup. */
}
END_TEST

START_TEST(discard_empties_the_buffer)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    /* Ignored while the session runs. */
    rp_sampler_discard(s);
    burn_ms(scaled_ms(10), CLOCK_MONOTONIC);
    ut_stop(s, session);
    rp_sampler_stats_t st;
    rp_sampler_stats(s, &st);
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(st.samples, 0);
    }
    if (st.samples > 0) {
        ck_assert_ptr_nonnull(rp_sampler_next(s, NULL));
    }
    scan_samples(s);
    rp_sampler_discard(s);
    ck_assert_ptr_null(rp_sampler_next(s, NULL));
    rp_sampler_stats(s, &st);
    ck_assert_uint_eq(st.samples, 0);
    rp_sampler_discard(s); /* twice: harmless */
    rp_sampler_discard(NULL);
    ck_assert_ptr_null(rp_sampler_next(s, NULL));
    /* The sampler still works afterwards. */
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    ut_stop(s, session);
    scan_t r = scan_samples(s);
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(r.samples, 0);
    }
}
END_TEST

START_TEST(deep_stacks_truncate_and_fill_the_buffer)
{
    /* 200 frames deep, sampled every 100us: each sample keeps
     * RP_MAX_DEPTH frames (~1 KiB), so the 1 MiB buffer holds about a
     * thousand samples, and the rest are dropped. On a busy machine late
     * intervals merge into fewer samples: a session that ended before the
     * buffer was full is run again, twice as long, until it fills (up to
     * about 16 s in all). */
    rp_sampler_t *s = rp_sampler_for_this_thread();
    unsigned ms = 250;
    rp_sampler_stats_t st;
    scan_t r;
    uint64_t per_sample =
        sizeof(rp_sample_t) + RP_MAX_DEPTH * sizeof(uintptr_t);
    for (int attempt = 0;; attempt++) {
        uint64_t session = 0;
        ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 100, &session),
                         APR_SUCCESS);
        deep_fn(200, (uint64_t)ms * 1000000u);
        ut_stop(s, session);
        rp_sampler_stats(s, &st);
        r = scan_samples(s);
        if (st.dropped > 0 || attempt == 5) {
            break;
        }
        ms *= 2;
    }
    ck_assert_uint_gt(r.samples, 0);
    ck_assert_uint_le(r.bytes, UT_ARENA_BYTES);
    if (st.dropped == 0 && ut_under_valgrind()) {
        /* Valgrind gives the sampler thread a turn now and then (about 150
         * samples a second here) and its unwinds often stop short of
         * RP_MAX_DEPTH: the buffer may not fill in 8 s. Plain and ASan
         * runs check it. */
        fprintf(stderr,
                "deep_stacks_truncate_and_fill_the_buffer: fill SKIPPED "
                "under valgrind (%u samples, %llu bytes in %u ms)\n",
                r.samples, (unsigned long long)r.bytes, ms);
    } else {
        /* The buffer filled: samples were dropped, and only once the next
         * would not have fit. */
        ck_assert_msg(st.dropped > 0,
                      "buffer never filled: %u samples, %llu of %llu bytes, "
                      "%llu intervals in %u ms",
                      r.samples, (unsigned long long)r.bytes,
                      (unsigned long long)UT_ARENA_BYTES,
                      (unsigned long long)st.weight, ms);
        ck_assert_uint_gt(r.bytes + per_sample, UT_ARENA_BYTES);
    }
    if (!ut_under_valgrind()) {
        /* Stacks deeper than RP_MAX_DEPTH keep RP_MAX_DEPTH frames,
         * marked. */
        ck_assert_uint_gt(r.truncated, 0);
        ck_assert_uint_eq(r.max_depth, RP_MAX_DEPTH);
        /* Dropped intervals are counted, none is lost silently. */
        ck_assert_uint_le(st.weight + st.dropped, st.wall_ns / 100000u + 1);
        ck_assert_uint_ge(st.weight + st.dropped, ms * 10u / 4);
    }
    /* Dropped samples are counted, not recorded: the buffer is intact. */
    ck_assert_uint_eq(r.samples, st.samples);
}
END_TEST

/* A second thread has a sampler of its own. */
typedef struct thread_run {
    rp_sampler_t *sampler;
    rp_sampler_t *again;
    apr_status_t start_rv;
    rp_sampler_stats_t stats;
    scan_t scan;
    sigset_t mask_before, mask_after;
} thread_run_t;

static void *sampling_thread(void *arg)
{
    thread_run_t *run = arg;
    run->sampler = rp_sampler_for_this_thread();
    run->again = rp_sampler_for_this_thread();
    if (run->sampler == NULL) {
        return NULL;
    }
    pthread_sigmask(SIG_BLOCK, NULL, &run->mask_before);
    uint64_t session = 0;
    run->start_rv = ut_start(run->sampler, RP_CLOCK_WALL, 1000, &session);
    if (run->start_rv == APR_SUCCESS) {
        burn_ms(scaled_ms(60), CLOCK_MONOTONIC);
        ut_stop(run->sampler, session);
    }
    pthread_sigmask(SIG_BLOCK, NULL, &run->mask_after);
    rp_sampler_stats(run->sampler, &run->stats);
    run->scan.samples = 0;
    for (const rp_sample_t *x = rp_sampler_next(run->sampler, NULL); x;
         x = rp_sampler_next(run->sampler, x)) {
        run->scan.samples++;
        run->scan.weight += x->weight;
    }
    return NULL;
}

/* The sampler thread carries a name: ps -L, top -H and the bench (which
 * measures its CPU from /proc) find it by it. */
START_TEST(sampler_thread_is_named)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(5, CLOCK_MONOTONIC);
    ut_stop(s, session);
    int named = 0;
    DIR *tasks = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(tasks);
    for (struct dirent *e = readdir(tasks); e != NULL; e = readdir(tasks)) {
        char path[300], comm[32] = "";
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue; /* a thread that just ended */
        }
        if (fgets(comm, sizeof(comm), f) != NULL &&
            strcmp(comm, "reqprof-sampler\n") == 0) {
            named++;
        }
        fclose(f);
    }
    closedir(tasks);
    ck_assert_int_eq(named, 1);
}
END_TEST

START_TEST(second_thread_has_its_own_sampler)
{
    rp_sampler_t *mine = rp_sampler_for_this_thread();
    /* Main thread samples at the same time, without interference. */
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(mine, RP_CLOCK_WALL, 1000, &session),
                     APR_SUCCESS);
    thread_run_t run;
    memset(&run, 0, sizeof(run));
    run.start_rv = -1;
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, sampling_thread, &run), 0);
    burn_ms(scaled_ms(40), CLOCK_MONOTONIC);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ut_stop(mine, session);

    ck_assert_ptr_nonnull(run.sampler);
    ck_assert_ptr_eq(run.again, run.sampler);
    ck_assert_ptr_ne(run.sampler, mine);
    ck_assert_int_eq(run.start_rv, APR_SUCCESS);
    ck_assert_uint_ge(run.stats.wall_ns, scaled_ms(60) * 1000000ull);
    ck_assert_uint_eq(run.scan.samples, run.stats.samples);
    ck_assert_uint_eq(run.scan.weight, run.stats.weight);
    ck_assert(same_mask(&run.mask_before, &run.mask_after));
    rp_sampler_stats_t st;
    rp_sampler_stats(mine, &st);
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(run.stats.samples, 0);
        ck_assert_uint_ge(run.stats.weight, scaled_ms(60) / 2);
        ck_assert_uint_gt(st.samples, 0);
    }
    /* Each sampler holds only its own thread's samples: the main thread's
     * stacks come from this test function, not from sampling_thread. */
    scan_samples(mine);

    /* Another thread's sampler cannot be started here. */
    uint64_t other = 0;
    ck_assert_int_eq(rp_sampler_start(run.sampler, RP_CLOCK_WALL, 1000, &other),
                     APR_EINVAL);
    ck_assert_int_eq(rp_sampler_is_active(run.sampler), 0);
}
END_TEST

/* A thread that samples until another thread stops its session. */
typedef struct cross_run {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int phase; /* 1: started, 2: stopped by main, 3: done */
    rp_sampler_t *sampler;
    uint64_t session;
    apr_status_t start_rv;
    int active_after_stop;
    unsigned samples_at_stop, samples_later;
    int restarted_ok;
    unsigned restarted_samples;
    sigset_t mask_before, mask_after;
} cross_run_t;

static void set_phase(cross_run_t *run, int phase)
{
    pthread_mutex_lock(&run->lock);
    run->phase = phase;
    pthread_cond_broadcast(&run->cond);
    pthread_mutex_unlock(&run->lock);
}

static int get_phase(cross_run_t *run)
{
    pthread_mutex_lock(&run->lock);
    int phase = run->phase;
    pthread_mutex_unlock(&run->lock);
    return phase;
}

static void *cross_thread(void *arg)
{
    cross_run_t *run = arg;
    run->sampler = rp_sampler_for_this_thread();
    pthread_sigmask(SIG_BLOCK, NULL, &run->mask_before);
    run->start_rv = ut_start(run->sampler, RP_CLOCK_WALL, 1000, &run->session);
    if (run->start_rv != APR_SUCCESS) {
        set_phase(run, 3);
        return NULL;
    }
    set_phase(run, 1);
    while (get_phase(run) != 2) {
        burn_fn(1000000u, CLOCK_MONOTONIC);
    }
    rp_sampler_stats_t st;
    rp_sampler_stats(run->sampler, &st);
    run->samples_at_stop = st.samples;
    run->active_after_stop = rp_sampler_is_active(run->sampler);
    burn_ms(scaled_ms(30), CLOCK_MONOTONIC);
    rp_sampler_stats(run->sampler, &st);
    run->samples_later = st.samples;
    /* The next start on this thread works and ends with the original
     * mask. */
    uint64_t session = 0;
    run->restarted_ok =
        ut_start(run->sampler, RP_CLOCK_WALL, 1000, &session) == APR_SUCCESS;
    if (run->restarted_ok) {
        burn_ms(scaled_ms(20), CLOCK_MONOTONIC);
        ut_stop(run->sampler, session);
        rp_sampler_stats(run->sampler, &st);
        run->restarted_samples = st.samples;
    }
    pthread_sigmask(SIG_BLOCK, NULL, &run->mask_after);
    /* The first session was ended from the main thread, not by ut_stop. */
    ut_unwinder_reset();
    set_phase(run, 3);
    return NULL;
}

START_TEST(stop_from_another_thread)
{
    cross_run_t run;
    memset(&run, 0, sizeof(run));
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.cond, NULL);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, cross_thread, &run), 0);
    pthread_mutex_lock(&run.lock);
    while (run.phase == 0) {
        pthread_cond_wait(&run.cond, &run.lock);
    }
    pthread_mutex_unlock(&run.lock);
    ck_assert_int_eq(run.start_rv, APR_SUCCESS);
    /* Let it collect a few samples, then stop it from here. */
    struct timespec nap = {0, scaled_ms(30) * 1000000L};
    nanosleep(&nap, NULL);
    ck_assert_int_eq(rp_sampler_is_active(run.sampler), 1);
    rp_sampler_stop(run.sampler, run.session + 1); /* wrong session */
    ck_assert_int_eq(rp_sampler_is_active(run.sampler), 1);
    rp_sampler_stop(run.sampler, run.session);
    ck_assert_int_eq(rp_sampler_is_active(run.sampler), 0);
    rp_sampler_discard(run.sampler); /* not from here: ignored */
    set_phase(&run, 2);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(run.active_after_stop, 0);
    ck_assert_msg(run.samples_later == run.samples_at_stop,
                  "%u samples after the stop, %u at it", run.samples_later,
                  run.samples_at_stop);
    ck_assert_int_eq(run.restarted_ok, 1);
    ck_assert(same_mask(&run.mask_before, &run.mask_after));
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(run.samples_at_stop, 0);
        ck_assert_uint_gt(run.restarted_samples, 0);
    }
    pthread_cond_destroy(&run.cond);
    pthread_mutex_destroy(&run.lock);
}
END_TEST

static void *sampler_of_new_thread(void *arg)
{
    *(rp_sampler_t **)arg = rp_sampler_for_this_thread();
    return NULL;
}

START_TEST(exited_thread_sampler_is_reused)
{
    /* Threads that come and go do not grow the registry without bound. */
    rp_sampler_t *mine = rp_sampler_for_this_thread();
    rp_sampler_t *first = NULL;
    rp_sampler_t *second = NULL;
    pthread_t thread;
    ck_assert_int_eq(
        pthread_create(&thread, NULL, sampler_of_new_thread, &first), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(
        pthread_create(&thread, NULL, sampler_of_new_thread, &second), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_eq(first, second);
    ck_assert_ptr_ne(first, mine);
}
END_TEST

START_TEST(shutdown_then_sample_again)
{
    /* Child exit ends every session and stops the sampler thread; a later
     * start (a process that goes on) brings it back. */
    rp_sampler_t *s = rp_sampler_for_this_thread();
    sigset_t before = current_mask();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    burn_ms(scaled_ms(20), CLOCK_MONOTONIC);
    rp_sampler_shutdown_process();
    ck_assert_int_eq(rp_sampler_is_active(s), 0);
    rp_sampler_stop(s, session); /* the session is over: harmless */
    ut_unwinder_reset();
    /* This thread's sampler survives (the thread still owns it). */
    ck_assert_ptr_eq(rp_sampler_for_this_thread(), s);

    rp_sampler_stats_t st;
    scan_t r;
    for (int attempt = 0;; attempt++) {
        ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session),
                         APR_SUCCESS);
        burn_ms(scaled_ms(60), CLOCK_MONOTONIC);
        ut_stop(s, session);
        rp_sampler_stats(s, &st);
        r = scan_samples(s);
        if (!try_again(attempt, st.samples > 0)) {
            break;
        }
    }
    ck_assert_uint_gt(st.samples, 0);
    if (!ut_under_valgrind()) {
        ck_assert_uint_gt(r.in_burn, 0);
    }
    /* The mask saved before the session that shutdown ended is the one
     * restored. */
    sigset_t after = current_mask();
    ck_assert(same_mask(&before, &after));
}
END_TEST

/* ---- waits where /proc hides registers (a process that is not dumpable) */

#define WAIT_POLL_NAME "rp_test_wait_poll"
#define WAIT_SLEEP_NAME "rp_test_wait_sleep"
#define WAIT_RCVTIMEO_NAME "rp_test_wait_rcvtimeo"
#define WAIT_SELECT_NAME "rp_test_wait_select"

/* Each waits ms once, directly, and returns how often its call failed with
 * EINTR: a profiler must never make that happen. */
__attribute__((noinline)) static int rp_test_wait_poll(int ms)
{
    int eintr = poll(NULL, 0, ms) < 0 && errno == EINTR;
    __asm__ volatile("" : "+r"(eintr));
    return eintr;
}

__attribute__((noinline)) static int rp_test_wait_sleep(int ms)
{
    struct timespec nap = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int eintr = nanosleep(&nap, NULL) != 0 && errno == EINTR;
    __asm__ volatile("" : "+r"(eintr));
    return eintr;
}

__attribute__((noinline)) static int rp_test_wait_rcvtimeo(int ms)
{
    int pair[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char byte;
    ssize_t n = recv(pair[0], &byte, 1, 0);
    int eintr = n < 0 && errno == EINTR;
    close(pair[0]);
    close(pair[1]);
    __asm__ volatile("" : "+r"(eintr));
    return eintr;
}

__attribute__((noinline)) static int rp_test_wait_select(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    int eintr = select(0, NULL, NULL, NULL, &tv) < 0 && errno == EINTR;
    __asm__ volatile("" : "+r"(eintr));
    return eintr;
}

typedef struct wait_kind {
    const char *name;
    int (*fn)(int);
    uint64_t plain_ns, profiled_ns;
    int eintr;
    uint64_t under; /* waiting intervals with this function on the stack */
} wait_kind_t;

static wait_kind_t wait_kinds[] = {
    {WAIT_POLL_NAME, rp_test_wait_poll, 0, 0, 0, 0},
    {WAIT_SLEEP_NAME, rp_test_wait_sleep, 0, 0, 0, 0},
    {WAIT_RCVTIMEO_NAME, rp_test_wait_rcvtimeo, 0, 0, 0, 0},
    {WAIT_SELECT_NAME, rp_test_wait_select, 0, 0, 0, 0},
};
#define WAIT_KINDS (sizeof(wait_kinds) / sizeof(wait_kinds[0]))

typedef struct hidden_run {
    int ms;
    apr_interval_time_t interval_us;
    rp_sampler_stats_t st;
    uint64_t waiting_total;
    uint64_t depth_one_roots; /* waiting samples with no caller at all */
} hidden_run_t;

static uint64_t timed_wait(wait_kind_t *k, int ms, int *eintr)
{
    uint64_t t0 = ut_now_ns(CLOCK_MONOTONIC);
    *eintr += k->fn(ms);
    return ut_now_ns(CLOCK_MONOTONIC) - t0;
}

static void attribute_waits(const rp_sampler_t *s, hidden_run_t *run)
{
    for (const rp_sample_t *x = rp_sampler_next(s, NULL); x != NULL;
         x = rp_sampler_next(s, x)) {
        if (!(x->flags & RP_SAMPLE_WAITING)) {
            continue;
        }
        run->waiting_total += x->weight;
        run->depth_one_roots += x->depth <= 1;
        for (size_t k = 0; k < WAIT_KINDS; k++) {
            for (int i = 0; i < x->depth; i++) {
                const rp_func_t *f =
                    rp_symbols_lookup(symbols, x->ips[i], i > 0);
                if (strcmp(f->name, wait_kinds[k].name) == 0) {
                    wait_kinds[k].under += x->weight;
                    break;
                }
            }
        }
    }
}

/* On a thread of its own, adopted with /proc's registers hidden: each wait
 * once unprofiled, then once more in one session. */
static void *run_hidden_waits(void *arg)
{
    hidden_run_t *run = arg;
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, UT_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    rp_sampler_t *s = rp_sampler_for_this_thread();
    ck_assert_ptr_nonnull(s);
    int ignored = 0;
    for (size_t k = 0; k < WAIT_KINDS; k++) {
        wait_kinds[k].plain_ns = timed_wait(&wait_kinds[k], run->ms, &ignored);
        wait_kinds[k].profiled_ns = 0;
        wait_kinds[k].eintr = 0;
        wait_kinds[k].under = 0;
    }
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, run->interval_us, &session),
                     APR_SUCCESS);
    for (size_t k = 0; k < WAIT_KINDS; k++) {
        wait_kinds[k].profiled_ns =
            timed_wait(&wait_kinds[k], run->ms, &wait_kinds[k].eintr);
    }
    ut_stop(s, session);
    rp_sampler_stats(s, &run->st);
    attribute_waits(s, run);
    rp_sampler_discard(s);
    return NULL;
}

static void check_hidden_waits(apr_interval_time_t interval_us)
{
    hidden_run_t run = {.ms = ut_under_valgrind() ? 60 : 120,
                        .interval_us = interval_us};
    pthread_t thread;
    rp_sampler_hide_proc_registers(1);
    ck_assert_int_eq(pthread_create(&thread, NULL, run_hidden_waits, &run), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    rp_sampler_hide_proc_registers(0);

    ck_assert_int_eq(run.st.proc_readable, 0);
    for (size_t k = 0; k < WAIT_KINDS; k++) {
        wait_kind_t *w = &wait_kinds[k];
        /* Never EINTR because of sampling. */
        ck_assert_msg(w->eintr == 0, "%s saw EINTR", w->name);
    }
    ck_assert_uint_eq(run.st.broken_waits, 0);
    if (ut_under_valgrind()) {
        return; /* valgrind's scheduling makes the shares meaningless */
    }
    ck_assert_uint_eq(run.depth_one_roots, 0);
    ck_assert_uint_gt(run.st.wait_signals, 0);
    /* Once per blocking episode, not once per interval: four waits of
     * 120 intervals or more each. */
    ck_assert_msg(run.st.wait_signals <= 4 * 4, "%u signals to waiting threads",
                  run.st.wait_signals);
    for (size_t k = 0; k < WAIT_KINDS; k++) {
        wait_kind_t *w = &wait_kinds[k];
        uint64_t expected = (uint64_t)run.ms * 1000u / (uint64_t)interval_us;
        /* Nearly all of each wait is under its own function (the first
         * interval may pass before the sampler sees it blocked). */
        ck_assert_msg(w->under * 100 >= expected * 90,
                      "%s: %llu of ~%llu waiting intervals under it", w->name,
                      (unsigned long long)w->under,
                      (unsigned long long)expected);
        /* Its timeout ends on time: within one interval, plus 10 % and
         * 5 ms for a busy machine's scheduling, of the same wait
         * unprofiled in this run. */
        uint64_t bound = w->plain_ns + w->plain_ns / 10 +
                         (uint64_t)interval_us * 1000u + 5000000u;
        ck_assert_msg(w->profiled_ns <= bound,
                      "%s took %.2f ms profiled, %.2f ms plain", w->name,
                      (double)w->profiled_ns / 1e6, (double)w->plain_ns / 1e6);
    }
}

START_TEST(hidden_registers_waits_at_1ms)
{
    check_hidden_waits(1000);
}
END_TEST

START_TEST(hidden_registers_waits_at_100us)
{
    check_hidden_waits(100);
}
END_TEST

/* A wait that cannot be signalled (the kernel shows a signal wait) before
 * the thread ever ran on CPU in the session: no stack of its own, but never
 * a root either. It sits under the stack known when the session started,
 * marked as unreadable. */
#define KNOWN_STACK_NAME "rp_test_session_starter"

__attribute__((noinline)) static int rp_test_wait_for_a_signal(int ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int r = sigtimedwait(&set, NULL, &ts);
    __asm__ volatile("" : "+r"(r));
    return r;
}

typedef struct known_run {
    rp_sampler_stats_t st;
    unsigned waiting, unreadable, under_starter, roots;
} known_run_t;

__attribute__((noinline)) static void rp_test_session_starter(known_run_t *run)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    ck_assert_ptr_nonnull(s);
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    rp_test_wait_for_a_signal(ut_under_valgrind() ? 40 : 80);
    ut_stop(s, session);
    rp_sampler_stats(s, &run->st);
    for (const rp_sample_t *x = rp_sampler_next(s, NULL); x != NULL;
         x = rp_sampler_next(s, x)) {
        if (!(x->flags & RP_SAMPLE_WAITING)) {
            continue;
        }
        run->waiting++;
        run->unreadable += x->syscall == RP_SYSCALL_UNREADABLE;
        run->roots += x->depth == 0;
        for (int i = 0; i < x->depth; i++) {
            if (strcmp(rp_symbols_lookup(symbols, x->ips[i], i > 0)->name,
                       KNOWN_STACK_NAME) == 0) {
                run->under_starter++;
                break;
            }
        }
    }
    rp_sampler_discard(s);
    __asm__ volatile("" ::: "memory");
}

static void (*volatile session_starter_fn)(known_run_t *) =
    rp_test_session_starter;

static void *run_known_stack_wait(void *arg)
{
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, UT_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    session_starter_fn(arg);
    return NULL;
}

START_TEST(unsignalled_wait_sits_under_the_known_stack)
{
    known_run_t run;
    /* A thread can be seen blocked a moment before its sigtimedwait (a
     * page fault on a fresh stack): that blocking episode is signalled, as
     * it should be. A run in which it happened is run again. */
    for (int attempt = 0; attempt < 5; attempt++) {
        memset(&run, 0, sizeof(run));
        pthread_t thread;
        rp_sampler_hide_proc_registers(1);
        ck_assert_int_eq(
            pthread_create(&thread, NULL, run_known_stack_wait, &run), 0);
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        rp_sampler_hide_proc_registers(0);
        ck_assert_int_eq(run.st.proc_readable, 0);
        /* Whatever happened, no waiting sample is a root of its own. */
        ck_assert_uint_eq(run.roots, 0);
        ck_assert_uint_eq(run.under_starter, run.waiting);
        if (run.st.wait_signals == 0) {
            break;
        }
    }
    if (ut_under_valgrind()) {
        return;
    }
    ck_assert_uint_eq(run.st.wait_signals, 0);
    ck_assert_uint_gt(run.waiting, 0);
    ck_assert_uint_gt(run.st.unsignalled_waits, 0);
    ck_assert_uint_eq(run.unreadable, run.waiting);
}
END_TEST

/* prefork runs a child's whole exit from its SIGTERM/SIGHUP handler, and a
 * process-directed signal goes to any thread that does not block it. The
 * sampler thread must never be that thread, not even in its first moment:
 * a signal raised by the sampler thread itself, as the first thing it does,
 * is handled by this (the only other) thread. Were the sampler thread to
 * block signals only once it runs, the kernel would hand the signal to the
 * sender, which does not block it yet. */
static volatile pid_t handled_on_tid;
static volatile int entry_mask_full = -1;

static void note_handling_thread(int signo)
{
    (void)signo;
    handled_on_tid = (pid_t)syscall(SYS_gettid);
}

static void raise_exit_like_signal_on_entry(void)
{
    sigset_t m;
    pthread_sigmask(SIG_SETMASK, NULL, &m);
    entry_mask_full = sigismember(&m, SIGTERM) && sigismember(&m, SIGHUP) &&
                      sigismember(&m, SIGUSR2) && sigismember(&m, SIGINT);
    kill(getpid(), SIGUSR2);
}

START_TEST(sampler_thread_never_handles_process_signals)
{
    /* A fresh sampler thread, whatever earlier tests left running. */
    rp_sampler_shutdown_process();
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note_handling_thread;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR2, &sa, &old_sa), 0);
    sigset_t usr2, saved;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &usr2, &saved);
    handled_on_tid = 0;
    entry_mask_full = -1;
    rp_sampler_set_thread_entry_hook(raise_exit_like_signal_on_entry);

    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    /* The signal is pending for this thread until it is delivered here. */
    for (int i = 0; i < 2000 && handled_on_tid == 0; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    ut_stop(s, session);
    rp_sampler_set_thread_entry_hook(NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    sigaction(SIGUSR2, &old_sa, NULL);

    ck_assert_int_eq(handled_on_tid, (pid_t)syscall(SYS_gettid));
    ck_assert_int_eq(entry_mask_full, 1);
}
END_TEST

/* The sampler thread ticks holding its lock, and a busy machine may preempt
 * it there for many milliseconds. A phase change on the request thread must
 * not wait for it: that wait would be the profiler's, shown as the
 * request's. The hook holds the tick until the phase change is done, or two
 * seconds. */
static sem_t tick_holding, phase_changed;
static volatile int tick_waited, phase_change_seen;

static void hold_tick_until_phase_change(void)
{
    if (tick_waited) {
        return;
    }
    tick_waited = 1;
    sem_post(&tick_holding);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    phase_change_seen = sem_timedwait(&phase_changed, &until) == 0;
}

START_TEST(phase_change_never_waits_for_a_tick)
{
    ck_assert_int_eq(sem_init(&tick_holding, 0, 0), 0);
    ck_assert_int_eq(sem_init(&phase_changed, 0, 0), 0);
    tick_waited = 0;
    phase_change_seen = 0;
    rp_sampler_set_tick_hook(hold_tick_until_phase_change);
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t session = 0;
    ck_assert_int_eq(ut_start(s, RP_CLOCK_WALL, 1000, &session), APR_SUCCESS);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    int holding = sem_timedwait(&tick_holding, &until) == 0;
    rp_sampler_set_tag(s, 7);
    sem_post(&phase_changed);
    ut_stop(s, session);
    rp_sampler_set_tick_hook(NULL);
    sem_destroy(&tick_holding);
    sem_destroy(&phase_changed);
    ck_assert_msg(holding, "the sampler thread never ticked");
    ck_assert_msg(phase_change_seen,
                  "the phase change waited for the sampler thread's tick");
}
END_TEST

Suite *sampler_suite(void)
{
    Suite *s = suite_create("rp_sampler");
    TCase *tc = tcase_create("sampler");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_rejects_bad_signal);
    tcase_add_test(tc, refuses_signal_another_handler_holds);
    tcase_add_test(tc, one_sampler_per_thread);
    tcase_add_test(tc, wall_clock_session);
    tcase_add_test(tc, cpu_clock_session);
    tcase_add_test(tc, cpu_clock_ignores_sleep);
    tcase_add_test(tc, wall_clock_counts_sleep);
    tcase_add_test(tc, start_twice_is_busy);
    tcase_add_test(tc, stop_twice_and_stale_sessions);
    tcase_add_test(tc, sessions_are_numbered);
    tcase_add_test(tc, counters_reset_at_start);
    tcase_add_test(tc, foreign_signals_are_ignored);
    tcase_add_test(tc, signal_after_stop_is_harmless);
    tcase_add_test(tc, mask_restored_when_unblocked);
    tcase_add_test(tc, mask_restored_when_blocked);
    tcase_add_test(tc, discard_empties_the_buffer);
    tcase_add_test(tc, deep_stacks_truncate_and_fill_the_buffer);
    tcase_add_test(tc, sampler_thread_is_named);
    tcase_add_test(tc, second_thread_has_its_own_sampler);
    tcase_add_test(tc, stop_from_another_thread);
    tcase_add_test(tc, exited_thread_sampler_is_reused);
    tcase_add_test(tc, shutdown_then_sample_again);
    tcase_add_test(tc, sampler_thread_never_handles_process_signals);
    tcase_add_test(tc, hidden_registers_waits_at_1ms);
    tcase_add_test(tc, hidden_registers_waits_at_100us);
    tcase_add_test(tc, unsignalled_wait_sits_under_the_known_stack);
    tcase_add_test(tc, phase_change_never_waits_for_a_tick);
    suite_add_tcase(s, tc);
    return s;
}
