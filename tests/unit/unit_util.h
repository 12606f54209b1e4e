/* Helpers shared by the unit tests. */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static inline uint64_t ut_now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
