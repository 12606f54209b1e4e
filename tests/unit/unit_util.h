/* Helpers shared by the unit tests. */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_errno.h>

#include "rp_sampler.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UT_HAVE_VALGRIND_H 1
#endif
#endif
#ifndef UT_HAVE_VALGRIND_H
#define VALGRIND_DISABLE_ERROR_REPORTING                                       \
    do {                                                                       \
    } while (0)
#define VALGRIND_ENABLE_ERROR_REPORTING                                        \
    do {                                                                       \
    } while (0)
#endif

/* The real-time signal and buffer every sampler test uses. */
#define UT_SIGNAL (SIGRTMIN + 5)
#define UT_ARENA_BYTES ((apr_size_t)1 << 20)

/* Valgrind runs the code ~50 times slower: tests that burn time scale down
 * and only check what is still certain there. */
static inline int ut_under_valgrind(void)
{
    const char *v = getenv("RP_UNDER_VALGRIND");
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Valgrind runs one thread at a time and hands the CPU to another thread
 * mostly when the running one blocks: a thread that burns CPU would starve
 * the sampler thread. Under valgrind, burning loops yield. */
static inline void ut_let_others_run(void)
{
    if (ut_under_valgrind()) {
        sched_yield();
    }
}

static inline uint64_t ut_now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* libunwind checks that memory is readable before it reads it, when a
 * frame lacks unwind information, by write(2)-ing the whole page to a pipe:
 * valgrind reports each such probe of the stack (bytes below the stack
 * pointer, or never written) as an error although nothing is wrong. Error
 * reporting is therefore off on the sampled thread while a session runs
 * (valgrind's switch is per thread). What the tests do with the samples
 * afterwards, and the leak check, stay under valgrind's eye. */
static __thread int ut_quiet_depth;

static inline void ut_unwinder_quiet(void)
{
    if (ut_quiet_depth++ == 0) {
        VALGRIND_DISABLE_ERROR_REPORTING;
    }
}

static inline void ut_unwinder_loud(void)
{
    if (ut_quiet_depth > 0 && --ut_quiet_depth == 0) {
        VALGRIND_ENABLE_ERROR_REPORTING;
    }
}

/* Back to reporting, whatever a failed test left behind. */
static inline void ut_unwinder_reset(void)
{
    while (ut_quiet_depth > 0) {
        ut_unwinder_loud();
    }
}

/* rp_sampler_start and rp_sampler_stop on the sampler's own thread, with
 * valgrind's reporting off in between. */
static inline apr_status_t ut_start(rp_sampler_t *s, rp_clock_e clock,
                                    apr_interval_time_t interval_us,
                                    uint64_t *session)
{
    ut_unwinder_quiet();
    apr_status_t rv = rp_sampler_start(s, clock, interval_us, session);
    if (rv != APR_SUCCESS) {
        ut_unwinder_loud();
    }
    return rv;
}

static inline void ut_stop(rp_sampler_t *s, uint64_t session)
{
    int running = session != 0 && rp_sampler_session(s) == session;
    rp_sampler_stop(s, session);
    if (running) {
        ut_unwinder_loud();
    }
}

#endif
