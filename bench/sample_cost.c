/* sample_cost: what one captured stack costs, for `make bench`.
 *
 *   sample_cost capture DEPTH SAMPLES
 *   sample_cost sampler DEPTH KITER INTERVAL_US ROUNDS [SCRIPT_DEPTH [php|lua]]
 *
 * Linked against mod_reqprof's core (build/out/rp_*.o).
 *
 * capture: a thread recurses until its stack is DEPTH frames deep (as
 *   unw_backtrace counts them from the interrupted instruction down to the
 *   thread's start), then sends itself SAMPLES realtime signals (tgkill, so
 *   each is delivered on the way out of the system call), alternating
 *   between two handlers installed with SA_SIGINFO | SA_RESTART like
 *   mod_reqprof's: an empty one and one that calls unw_backtrace into a
 *   stack array, as mod_reqprof's handler does, with libunwind's per-thread
 *   cache (rp_sampler_init_process sets it). Reports the time of
 *   unw_backtrace itself (clock_gettime around it, in the handler) and the
 *   round trip of the tgkill with either handler, mean and p99.
 *
 * sampler: a thread at DEPTH runs the spin_fixed loop of mod_rpwork.c
 *   (KITER thousand steps), ROUNDS times each, interleaved:
 *     plain   nothing samples it;
 *     floor   a second thread signals it every INTERVAL_US (tgkill, absolute
 *             deadlines) into an empty handler;
 *     sampler rp_sampler_start(RP_CLOCK_WALL, INTERVAL_US) .. rp_sampler_stop
 *             (mod_reqprof's sampler thread, signal and handler);
 *     script  (with SCRIPT_DEPTH) the same with a PHP engine in the process
 *             whose code is SCRIPT_DEPTH user functions deep (rp_php on an
 *             engine image, tests/unit/php_image.c): every sample reads
 *             and splices those frames, as in a mod_php child. With "lua",
 *             every variant runs the loop from a C function that Lua code
 *             SCRIPT_DEPTH functions deep calls (Debian's liblua5.3, loaded
 *             at run time), and the script variant reads those frames
 *             (rp_lua), as in a mod_lua request.
 *   Prints every run's wall and thread CPU time and how many samples or
 *   signals it took; the caller computes the added time per sample.
 *
 * Output: one JSON object on stdout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define UNW_LOCAL_ONLY
#include <apr_general.h>
#include <apr_pools.h>
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>

#include "php_image.h"
#include "rp_lua.h"
#include "rp_php.h"
#include "rp_sampler.h"

#define SAMPLER_SIGNAL (SIGRTMIN + 5) /* mod_reqprof's default */
#define BENCH_SIGNAL (SIGRTMIN + 6)   /* this program's own handlers */
#define MAX_FRAMES (RP_MAX_DEPTH + 4)

static int depth_wanted;
static long samples_wanted;
static long kiter;
static long interval_us;
static int rounds;

/* ---- time ---------------------------------------------------------------- */

static inline uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void summarize(const char *name, uint64_t *v, long n, int comma)
{
    double sum = 0;
    for (long i = 0; i < n; i++) {
        sum += (double)v[i];
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    long p99 = (long)((double)n * 0.99);
    if (p99 >= n) {
        p99 = n - 1;
    }
    printf("\"%s\": {\"mean_ns\": %.1f, \"median_ns\": %llu, \"p99_ns\": "
           "%llu, \"n\": %ld}%s ",
           name, sum / (double)n, (unsigned long long)v[n / 2],
           (unsigned long long)v[p99], n, comma ? "," : "");
}

/* ---- the handlers (capture mode) ------------------------------------------
 */

enum { HANDLER_EMPTY = 0, HANDLER_UNWIND = 1 };
static volatile int handler_kind;
static uint64_t *unwind_ns; /* per sample, filled by the unwinding handler */
static volatile long unwind_index;
static volatile int unwound_frames;

static void on_bench_signal(int signo, siginfo_t *si, void *uc)
{
    (void)signo;
    (void)si;
    (void)uc;
    if (handler_kind == HANDLER_EMPTY) {
        return;
    }
    int saved_errno = errno;
    void *frames[MAX_FRAMES];
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    int n = unw_backtrace(frames, MAX_FRAMES);
    uint64_t t1 = now_ns(CLOCK_MONOTONIC);
    __asm__ volatile("" : : "r"(frames) : "memory");
    long i = unwind_index;
    if (i < samples_wanted) {
        unwind_ns[i] = t1 - t0;
        unwind_index = i + 1;
    }
    unwound_frames = n;
    errno = saved_errno;
}

/* ---- work -----------------------------------------------------------------
 */

/* The loop of spin_fixed() in mod_rpwork.c, unchanged. */
static __attribute__((noinline, noclone)) unsigned long spin_fixed(long n)
{
    volatile unsigned long sink = 3;
    for (long k = 0; k < n; k++) {
        for (int i = 0; i < 1000; i++) {
            sink = sink * 6364136223846793005ul + 1442695040888963407ul;
        }
    }
    return sink;
}

static __attribute__((noinline, noclone)) int stack_depth_here(void)
{
    void *frames[MAX_FRAMES];
    return unw_backtrace(frames, MAX_FRAMES);
}

typedef void (*bottom_fn)(void);

/* Recurses n frames, then runs fn. Not a tail call: each frame stays. */
static __attribute__((noinline, noclone)) int recurse(int n, bottom_fn fn)
{
    volatile int frame = n;
    if (n <= 0) {
        fn();
    } else {
        recurse(n - 1, fn);
    }
    __asm__ volatile("" : : : "memory");
    return frame;
}

/* ---- capture mode ----------------------------------------------------------
 */

static int captured_depth;
static uint64_t *trip_empty, *trip_unwind;

static void capture_bottom(void)
{
    pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
    /* Warm libunwind's per-thread cache at this depth, as mod_reqprof warms
     * it before a session starts. */
    handler_kind = HANDLER_UNWIND;
    for (int i = 0; i < 200; i++) {
        syscall(SYS_tgkill, pid, tid, BENCH_SIGNAL);
    }
    unwind_index = 0;
    for (long i = 0; i < samples_wanted; i++) {
        handler_kind = HANDLER_EMPTY;
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        syscall(SYS_tgkill, pid, tid, BENCH_SIGNAL);
        uint64_t t1 = now_ns(CLOCK_MONOTONIC);
        handler_kind = HANDLER_UNWIND;
        syscall(SYS_tgkill, pid, tid, BENCH_SIGNAL);
        uint64_t t2 = now_ns(CLOCK_MONOTONIC);
        trip_empty[i] = t1 - t0;
        trip_unwind[i] = t2 - t1;
    }
    /* Frames below the handler: unw_backtrace also counted the handler
     * itself and the signal trampoline. */
    captured_depth = unwound_frames - 2;
}

static void *capture_main(void *arg)
{
    (void)arg;
    int here = stack_depth_here();
    /* here counts stack_depth_here, this function and the two frames of the
     * thread's start. At the bottom the stack holds the interrupted function,
     * the bottom function, recurse's extra + 1 frames and those three. */
    int extra = depth_wanted - here - 2;
    recurse(extra < 0 ? 0 : extra, capture_bottom);
    return NULL;
}

/* ---- sampler mode ----------------------------------------------------------
 */

enum { RUN_PLAIN = 0, RUN_FLOOR = 1, RUN_SAMPLER = 2, RUN_SCRIPT = 3 };
static const char *const run_names[] = {"plain", "floor", "sampler", "script"};
static int kinds = 3;    /* 4 with a script engine */
static int script_depth; /* its frames */
static int script_lua;   /* the engine is Lua, not PHP */
static rp_php_t script_engine;
static rp_lua_t lua_engine;
static void *lua_state;
static void run_work(void); /* spin_fixed, from Lua where asked */
static void (*lua_getglobal_fn)(void *, const char *);
static void (*lua_pushinteger_fn)(void *, long long);
static int (*lua_pcallk_fn)(void *, int, int, int, intptr_t, void *);

typedef struct {
    double wall_us, cpu_us;
    unsigned long samples; /* stacks recorded, or empty-handler signals */
    unsigned long signals;
    unsigned long late;
} run_t;

static run_t *runs[4];
static volatile int floor_stop;
static pid_t worker_tid;
static unsigned long floor_delivered;
static unsigned long
    depth_seen[RP_MAX_DEPTH + 1]; /* recorded stacks by depth */

static void on_floor_signal(int signo, siginfo_t *si, void *uc)
{
    (void)signo;
    (void)si;
    (void)uc;
    __atomic_fetch_add(&floor_delivered, 1, __ATOMIC_RELAXED);
}

static void *floor_sender(void *arg)
{
    (void)arg;
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    pid_t pid = getpid();
    uint64_t step = (uint64_t)interval_us * 1000u;
    uint64_t due = now_ns(CLOCK_MONOTONIC);
    while (!__atomic_load_n(&floor_stop, __ATOMIC_ACQUIRE)) {
        due += step;
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u),
                              .tv_nsec = (long)(due % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
               EINTR) {
        }
        if (!__atomic_load_n(&floor_stop, __ATOMIC_ACQUIRE)) {
            syscall(SYS_tgkill, pid, worker_tid, BENCH_SIGNAL);
        }
    }
    return NULL;
}

static void sampler_bottom(void)
{
    rp_sampler_t *s = rp_sampler_for_this_thread();
    if (s == NULL) {
        fprintf(stderr, "no sampler for this thread\n");
        exit(1);
    }
    worker_tid = (pid_t)syscall(SYS_gettid);
    spin_fixed(kiter / 10 + 1); /* warm up */
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < kinds; k++) {
            /* Rotate the order so drift falls on every variant. */
            int kind = (k + r) % kinds;
            run_t *out = &runs[kind][r];
            pthread_t sender;
            uint64_t session = 0;
            memset(out, 0, sizeof(*out));
            if (kind == RUN_FLOOR) {
                floor_delivered = 0;
                floor_stop = 0;
                pthread_create(&sender, NULL, floor_sender, NULL);
            } else if (kind == RUN_SAMPLER || kind == RUN_SCRIPT) {
                int with = kind == RUN_SCRIPT;
                rp_script_set_engine(RP_SCRIPT_SLOT_PHP,
                                     with && !script_lua ? rp_php_splice : NULL,
                                     &script_engine);
                rp_script_set_engine(RP_SCRIPT_SLOT_LUA,
                                     with && script_lua ? rp_lua_splice : NULL,
                                     &lua_engine);
                if (rp_sampler_start(s, RP_CLOCK_WALL, interval_us, &session) !=
                    APR_SUCCESS) {
                    fprintf(stderr, "rp_sampler_start failed\n");
                    exit(1);
                }
                /* As mod_lua announces the state it runs. */
                rp_sampler_set_script_context(s, (uintptr_t)lua_state);
            }
            uint64_t w0 = now_ns(CLOCK_MONOTONIC);
            uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
            run_work();
            uint64_t w1 = now_ns(CLOCK_MONOTONIC);
            uint64_t c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
            if (kind == RUN_FLOOR) {
                __atomic_store_n(&floor_stop, 1, __ATOMIC_RELEASE);
                pthread_join(sender, NULL);
                out->samples = out->signals = floor_delivered;
            } else if (kind == RUN_SAMPLER || kind == RUN_SCRIPT) {
                rp_sampler_stop(s, session);
                rp_sampler_stats_t st;
                rp_sampler_stats(s, &st);
                out->samples = st.samples;
                out->signals = st.signals;
                out->late = st.late_intervals;
                for (const rp_sample_t *x = rp_sampler_next(s, NULL); x;
                     x = rp_sampler_next(s, x)) {
                    depth_seen[x->depth <= RP_MAX_DEPTH ? x->depth : 0]++;
                }
                rp_sampler_discard(s);
            }
            out->wall_us = (double)(w1 - w0) / 1e3;
            out->cpu_us = (double)(c1 - c0) / 1e3;
        }
    }
    /* stack_depth_here stands where spin_fixed stood. */
    captured_depth = stack_depth_here();
}

static void *sampler_main(void *arg)
{
    (void)arg;
    int here = stack_depth_here();
    int extra = depth_wanted - here - 2; /* as in capture_main */
    recurse(extra < 0 ? 0 : extra, sampler_bottom);
    return NULL;
}

/* The loop, called from Lua script_depth functions deep. */
static int lua_spin(void *L)
{
    (void)L;
    spin_fixed(kiter);
    return 0;
}

static void run_work(void)
{
    if (lua_state == NULL) {
        spin_fixed(kiter);
        return;
    }
    lua_getglobal_fn(lua_state, "down");
    lua_pushinteger_fn(lua_state, script_depth - 1);
    if (lua_pcallk_fn(lua_state, 1, 0, 0, 0, NULL) != 0) {
        fprintf(stderr, "the Lua chunk failed\n");
        exit(1);
    }
}

/* Lua, with a function that recurses n deep, then calls the loop. */
static void start_lua(void)
{
    static const char chunk[] = "function down(n)\n"
                                "  if n == 0 then return (spin()) end\n"
                                "  return (down(n - 1))\n"
                                "end\n";
    char why_buf[200];
    const char *why;
    if (dlopen("liblua5.3.so.0", RTLD_NOW | RTLD_GLOBAL) == NULL ||
        rp_lua_attach(&lua_engine, why_buf, sizeof(why_buf), &why) !=
            RP_LUA_READY) {
        fprintf(stderr, "Lua 5.3 is not usable here\n");
        exit(1);
    }
    void *(*newstate)(void) =
        (void *(*)(void))dlsym(RTLD_DEFAULT, "luaL_newstate");
    int (*dostring)(void *, const char *, size_t, const char *, const char *) =
        (int (*)(void *, const char *, size_t, const char *,
                 const char *))dlsym(RTLD_DEFAULT, "luaL_loadbufferx");
    void (*push)(void *, int (*)(void *), int) =
        (void (*)(void *, int (*)(void *), int))dlsym(RTLD_DEFAULT,
                                                      "lua_pushcclosure");
    void (*setglobal)(void *, const char *) =
        (void (*)(void *, const char *))dlsym(RTLD_DEFAULT, "lua_setglobal");
    lua_getglobal_fn =
        (void (*)(void *, const char *))dlsym(RTLD_DEFAULT, "lua_getglobal");
    lua_pushinteger_fn =
        (void (*)(void *, long long))dlsym(RTLD_DEFAULT, "lua_pushinteger");
    lua_pcallk_fn = (int (*)(void *, int, int, int, intptr_t, void *))dlsym(
        RTLD_DEFAULT, "lua_pcallk");
    lua_state = newstate();
    push(lua_state, lua_spin, 0);
    setglobal(lua_state, "spin");
    if (dostring(lua_state, chunk, sizeof(chunk) - 1, "@bench.lua", NULL) !=
            0 ||
        lua_pcallk_fn(lua_state, 0, 0, 0, 0, NULL) != 0) {
        fprintf(stderr, "the Lua chunk did not load\n");
        exit(1);
    }
}

/* A PHP engine running script_depth user functions, each in its own
 * file line: {main}, then level_1 .. level_N-1. */
static php_image_t *script_image(rp_php_t *engine)
{
    static const rp_script_anchors_t anchors = {0}; /* none: see below */
    php_image_t *img = php_image_create();
    const rp_php_layout_t *L = &rp_php_layout;
    uintptr_t main_fn =
        php_image_user_function(img, NULL, NULL, "/srv/www/index.php", 1);
    uintptr_t ex = php_image_frame(img, main_fn, L->call_top | L->call_code, 0);
    for (int i = 1; i < script_depth; i++) {
        char name[32];
        snprintf(name, sizeof(name), "level_%d", i);
        uintptr_t fn = php_image_user_function(img, name, NULL,
                                               "/srv/www/lib.php", 10 * i);
        ex = php_image_frame(img, fn, 0, ex);
    }
    /* Without an executor among this program's frames, every sample reads
     * the frames and puts them at the stack's outer end, as for a native
     * stack that ended in JIT code: the same reads and splice. */
    *engine = php_image_engine(img, ex, &anchors);
    return img;
}

/* ---- main ------------------------------------------------------------------
 */

static void install(int signo, void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

static void run_thread(void *(*fn)(void *))
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8 << 20);
    pthread_t t;
    pthread_create(&t, &attr, fn, NULL);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        goto usage;
    }
    apr_initialize();
    /* As in an httpd child: the handler, and libunwind's per-thread cache. */
    if (rp_sampler_init_process(SAMPLER_SIGNAL, 64u << 20) != APR_SUCCESS) {
        fprintf(stderr, "rp_sampler_init_process failed\n");
        return 1;
    }
    if (strcmp(argv[1], "capture") == 0 && argc == 4) {
        depth_wanted = atoi(argv[2]);
        samples_wanted = atol(argv[3]);
        if (depth_wanted < 4 || depth_wanted > RP_MAX_DEPTH ||
            samples_wanted < 100) {
            goto usage;
        }
        unwind_ns = calloc((size_t)samples_wanted, sizeof(uint64_t));
        trip_empty = calloc((size_t)samples_wanted, sizeof(uint64_t));
        trip_unwind = calloc((size_t)samples_wanted, sizeof(uint64_t));
        install(BENCH_SIGNAL, on_bench_signal);
        run_thread(capture_main);
        printf("{\"mode\": \"capture\", \"depth\": %d, \"frames\": %d, ",
               depth_wanted, captured_depth);
        summarize("unw_backtrace", unwind_ns, unwind_index, 1);
        summarize("roundtrip_empty", trip_empty, samples_wanted, 1);
        summarize("roundtrip_unwind", trip_unwind, samples_wanted, 0);
        printf("}\n");
        return 0;
    }
    if (strcmp(argv[1], "sampler") == 0 && argc >= 6 && argc <= 8) {
        depth_wanted = atoi(argv[2]);
        kiter = atol(argv[3]);
        interval_us = atol(argv[4]);
        rounds = atoi(argv[5]);
        script_depth = argc >= 7 ? atoi(argv[6]) : 0;
        script_lua = argc == 8 && strcmp(argv[7], "lua") == 0;
        if (depth_wanted < 4 || depth_wanted > RP_MAX_DEPTH || kiter <= 0 ||
            interval_us <= 0 || rounds <= 0 || script_depth < 0 ||
            script_depth > 100 ||
            (argc == 8 && !script_lua && strcmp(argv[7], "php") != 0) ||
            (script_depth > 0 && !script_lua && !rp_php_layout.available)) {
            goto usage;
        }
        php_image_t *img = NULL;
        if (script_depth > 0) {
            if (script_lua) {
                start_lua();
            } else {
                img = script_image(&script_engine);
            }
            kinds = 4;
        }
        for (int k = 0; k < kinds; k++) {
            runs[k] = calloc((size_t)rounds, sizeof(run_t));
        }
        install(BENCH_SIGNAL, on_floor_signal);
        run_thread(sampler_main);
        unsigned sample_depth = 0; /* the commonest depth recorded */
        for (unsigned d = 1; d <= RP_MAX_DEPTH; d++) {
            if (depth_seen[d] > depth_seen[sample_depth]) {
                sample_depth = d;
            }
        }
        printf("{\"mode\": \"sampler\", \"depth\": %d, \"frames\": %d, "
               "\"sampled_frames\": %u, \"interval_us\": %ld, "
               "\"kiter\": %ld",
               depth_wanted, captured_depth, sample_depth, interval_us, kiter);
        printf(", \"script_depth\": %d, \"script\": \"%s\"", script_depth,
               script_lua ? "lua" : "php");
        for (int k = 0; k < kinds; k++) {
            printf(", \"%s\": [", run_names[k]);
            for (int r = 0; r < rounds; r++) {
                const run_t *x = &runs[k][r];
                printf("%s{\"wall_us\": %.1f, \"cpu_us\": %.1f, \"samples\": "
                       "%lu, \"signals\": %lu, \"late\": %lu}",
                       r ? ", " : "", x->wall_us, x->cpu_us, x->samples,
                       x->signals, x->late);
            }
            printf("]");
        }
        printf("}\n");
        rp_sampler_shutdown_process();
        if (img != NULL) {
            php_image_destroy(img);
        }
        return 0;
    }
usage:
    fprintf(stderr,
            "usage: %s capture DEPTH SAMPLES\n"
            "       %s sampler DEPTH KITER INTERVAL_US ROUNDS "
            "[SCRIPT_DEPTH [php|lua]]\n",
            argv[0], argv[0]);
    return 2;
}
