/* mod_rpwork: a test workload with known call paths, for mod_reqprof's tests
 * and demo. "SetHandler rpwork" serves:
 *   /cpu?ms=N     N ms of thread CPU, split 3:1 between work_alpha and
 *                 work_beta (two static functions)
 *   /wait?ms=N    N ms waiting in poll(), inside wait_in_poll
 *   /sleep?ms=N   one nanosleep() of N ms, inside wait_in_nanosleep
 *   /rcvtimeo?ms=N  one recv() that times out after N ms (SO_RCVTIMEO),
 *                 inside wait_in_recv_timeout
 *   /mixed?cpu=N&wait=M
 *   /big?kb=N     a body of N KiB, written in 8 KiB pieces
 *   /status?code=N  an error status from the handler
 *   /sort?ms=N    N ms of thread CPU in qsort(), whose comparator
 *                 (compare_slowly) does the work: glibc's static sort
 *                 functions sit between it and sort_slowly
 *   /spin?kiter=N   a fixed amount of work (N thousand iterations), for
 *                 overhead measurements: its time varies, its work does not
 *   any path, ?access_ms=N  N ms of CPU in the access_checker phase
 *                 (slow_access_check), before the handler runs
 * Every response carries X-Rpwork-Wall-Us and X-Rpwork-Cpu-Us: the wall and
 * thread CPU time the action took, measured inside the handler, and
 * X-Rpwork-Saw-Cache-Control: the request's Cache-Control as the handler saw
 * it ("-" for none), and X-Rpwork-Interrupted: how often the wait's call
 * failed with EINTR.
 * The last path segment selects the action. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

module AP_MODULE_DECLARE_DATA rpwork_module;

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Spins until the thread has used ms of CPU. Inlined into each caller on
 * purpose, so samples land in work_alpha and work_beta themselves; the
 * volatile sink keeps the arithmetic from being optimised away. */
static inline __attribute__((always_inline)) unsigned long
spin_cpu(double ms, unsigned long seed)
{
    volatile unsigned long sink = seed;
    double until = thread_cpu_ms() + ms;
    do {
        for (int i = 0; i < 50000; i++) {
            sink = sink * 6364136223846793005ul + 1442695040888963407ul;
        }
    } while (thread_cpu_ms() < until);
    return sink;
}

static __attribute__((noinline, noclone)) unsigned long work_alpha(double ms)
{
    return spin_cpu(ms, 1);
}

static __attribute__((noinline, noclone)) unsigned long work_beta(double ms)
{
    return spin_cpu(ms, 2);
}

static __attribute__((noinline, noclone)) void burn_cpu_split(double total_ms)
{
    /* 3:1 in 4 ms rounds, so any stretch of the run keeps the split. */
    for (double done = 0; done < total_ms; done += 4.0) {
        work_alpha(3.0);
        work_beta(1.0);
    }
}

static __attribute__((noinline, noclone)) unsigned long spin_fixed(long kiter)
{
    volatile unsigned long sink = 3;
    for (long k = 0; k < kiter; k++) {
        for (int i = 0; i < 1000; i++) {
            sink = sink * 6364136223846793005ul + 1442695040888963407ul;
        }
    }
    return sink;
}

/* qsort's comparator, called back from glibc's (static) merge sort: each
 * call burns a little CPU, so samples land here under libc's frames. */
static __attribute__((noinline, noclone)) int compare_slowly(const void *a,
                                                             const void *b)
{
    volatile unsigned long sink = 7;
    for (int i = 0; i < 2000; i++) {
        sink = sink * 6364136223846793005ul + 1442695040888963407ul;
    }
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static __attribute__((noinline, noclone)) void sort_slowly(double ms)
{
    long values[256];
    unsigned long seed = 1;
    double until = thread_cpu_ms() + ms;
    do {
        for (int i = 0; i < 256; i++) {
            seed = seed * 6364136223846793005ul + 1442695040888963407ul;
            values[i] = (long)(seed >> 33);
        }
        qsort(values, 256, sizeof(values[0]), compare_slowly);
    } while (thread_cpu_ms() < until);
}

static __attribute__((noinline, noclone)) int wait_in_poll(double ms)
{
    int interrupted = 0;
    double until = monotonic_ms() + ms;
    for (double left = ms; left > 0; left = until - monotonic_ms()) {
        if (poll(NULL, 0, (int)(left + 0.999)) < 0 && errno == EINTR) {
            interrupted++;
        }
    }
    return interrupted;
}

/* One nanosleep() of ms, not resumed: returns 1 if it ended early with
 * EINTR (a profiler must never make that happen). */
static __attribute__((noinline, noclone)) int wait_in_nanosleep(double ms)
{
    struct timespec nap = {
        (time_t)(ms / 1000),
        (long)((ms - 1000 * (double)(long)(ms / 1000)) * 1e6)};
    int eintr = nanosleep(&nap, NULL) != 0 && errno == EINTR;
    __asm__ volatile("" : "+r"(eintr));
    return eintr;
}

/* One recv() on a socket nobody writes to, with SO_RCVTIMEO of ms: it must
 * end with EAGAIN after ms, never with EINTR. */
static __attribute__((noinline, noclone)) int wait_in_recv_timeout(double ms)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        return -1;
    }
    struct timeval tv = {(time_t)(ms / 1000),
                         (suseconds_t)((long)ms % 1000) * 1000};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char byte;
    int eintr = recv(pair[0], &byte, 1, 0) < 0 && errno == EINTR;
    close(pair[0]);
    close(pair[1]);
    __asm__ volatile("" : "+r"(eintr));
    return eintr;
}

static long arg_value(request_rec *r, const char *name, long fallback, long max)
{
    if (r->args == NULL) {
        return fallback;
    }
    size_t n = strlen(name);
    for (const char *p = r->args; p && *p;
         p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            long v = strtol(p + n + 1, NULL, 10);
            return v < 0 ? 0 : (v > max ? max : v);
        }
    }
    return fallback;
}

static int send_big_body(request_rec *r, long kb)
{
    char piece[8192];
    memset(piece, 'x', sizeof(piece));
    for (long sent = 0; sent < kb * 1024; sent += (long)sizeof(piece)) {
        long n = kb * 1024 - sent;
        ap_rwrite(piece, n < (long)sizeof(piece) ? (int)n : (int)sizeof(piece),
                  r);
    }
    return OK;
}

static int rpwork_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "rpwork") != 0) {
        return DECLINED;
    }
    const char *slash = strrchr(r->uri, '/');
    const char *action = slash ? slash + 1 : r->uri;
    ap_set_content_type(r, "text/plain");
    int interrupted = 0;
    double wall_start = monotonic_ms(), cpu_start = thread_cpu_ms();
    if (strcmp(action, "spin") == 0) {
        spin_fixed(arg_value(r, "kiter", 1000, 100000000));
    } else if (strcmp(action, "cpu") == 0) {
        burn_cpu_split((double)arg_value(r, "ms", 200, 60000));
    } else if (strcmp(action, "sort") == 0) {
        sort_slowly((double)arg_value(r, "ms", 200, 60000));
    } else if (strcmp(action, "wait") == 0) {
        interrupted = wait_in_poll((double)arg_value(r, "ms", 200, 60000));
    } else if (strcmp(action, "sleep") == 0) {
        interrupted = wait_in_nanosleep((double)arg_value(r, "ms", 200, 60000));
    } else if (strcmp(action, "rcvtimeo") == 0) {
        interrupted =
            wait_in_recv_timeout((double)arg_value(r, "ms", 200, 60000));
    } else if (strcmp(action, "mixed") == 0) {
        burn_cpu_split((double)arg_value(r, "cpu", 100, 60000));
        interrupted = wait_in_poll((double)arg_value(r, "wait", 100, 60000));
    } else if (strcmp(action, "big") == 0) {
        return send_big_body(r, arg_value(r, "kb", 1024, 1024 * 1024));
    } else if (strcmp(action, "status") == 0) {
        return (int)arg_value(r, "code", 500, 599);
    } else {
        return HTTP_NOT_FOUND;
    }
    apr_table_setn(
        r->headers_out, "X-Rpwork-Wall-Us",
        apr_ltoa(r->pool, (long)((monotonic_ms() - wall_start) * 1e3)));
    apr_table_setn(
        r->headers_out, "X-Rpwork-Cpu-Us",
        apr_ltoa(r->pool, (long)((thread_cpu_ms() - cpu_start) * 1e3)));
    const char *cache_control = apr_table_get(r->headers_in, "Cache-Control");
    apr_table_setn(r->headers_out, "X-Rpwork-Saw-Cache-Control",
                   cache_control ? cache_control : "-");
    /* A header survives a profiled response (the body does not): tests read
     * how often sampling interrupted the wait. */
    apr_table_setn(r->headers_out, "X-Rpwork-Interrupted",
                   apr_itoa(r->pool, interrupted));
    ap_rprintf(r, "rpwork %s done, poll interrupted %d times\n", action,
               interrupted);
    return OK;
}

static __attribute__((noinline, noclone)) int slow_access_check(request_rec *r)
{
    long ms = arg_value(r, "access_ms", 0, 60000);
    if (ms > 0) {
        work_alpha((double)ms);
    }
    return DECLINED;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_access_checker(slow_access_check, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(rpwork_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(rpwork) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, register_hooks, 0};
