/* floor: what interrupting a spinning thread costs at all, for `make bench`.
 *
 *   floor MODE INTERVAL_US KITER
 *
 * A worker thread runs the same fixed spin loop as spin_fixed() in
 * tests/workload/mod_rpwork.c (KITER thousand LCG steps into a volatile
 * sink) while
 *   none     nothing interrupts it;
 *   tgkill   a second thread sends it a realtime signal every INTERVAL_US,
 *            on absolute clock_nanosleep deadlines (the delivery floor of a
 *            sampler thread such as mod_reqprof's);
 *   timer    a per-thread POSIX timer (CLOCK_MONOTONIC, SIGEV_THREAD_ID)
 *            signals it every INTERVAL_US (the per-thread-timer floor).
 * The handler is empty but for one relaxed counter increment, installed with
 * SA_SIGINFO | SA_RESTART as mod_reqprof installs its own.
 *
 * Prints one JSON object: the worker's wall and thread CPU time for the
 * loop, and the signals it took. */
#define _GNU_SOURCE
#include <errno.h>
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

#define FLOOR_SIGNAL (SIGRTMIN + 5)

enum mode { MODE_NONE, MODE_TGKILL, MODE_TIMER };

static enum mode mode;
static long interval_us;
static long kiter;
static pid_t worker_tid;
static volatile int worker_ready, worker_done, sender_ready;
static unsigned long delivered;
static unsigned long sent;
static uint64_t wall_ns, cpu_ns;

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int signo, siginfo_t *si, void *uc)
{
    (void)signo;
    (void)si;
    (void)uc;
    __atomic_fetch_add(&delivered, 1, __ATOMIC_RELAXED);
}

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

static void *sender_main(void *arg)
{
    (void)arg;
    /* Like mod_reqprof's sampler thread: wake on time. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    while (!__atomic_load_n(&worker_ready, __ATOMIC_ACQUIRE)) {
    }
    pid_t pid = getpid();
    uint64_t step = (uint64_t)interval_us * 1000u;
    uint64_t due = now_ns(CLOCK_MONOTONIC);
    __atomic_store_n(&sender_ready, 1, __ATOMIC_RELEASE);
    for (;;) {
        due += step;
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u),
                              .tv_nsec = (long)(due % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
               EINTR) {
        }
        if (__atomic_load_n(&worker_done, __ATOMIC_ACQUIRE)) {
            break;
        }
        if (syscall(SYS_tgkill, pid, worker_tid, FLOOR_SIGNAL) == 0) {
            sent++;
        }
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    (void)arg;
    worker_tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    int have_timer = 0;
    spin_fixed(kiter / 50 + 1); /* warm up: page in, settle the clock */
    if (mode == MODE_TIMER) {
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = FLOOR_SIGNAL;
        sev._sigev_un._tid = worker_tid;
        if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
            perror("timer_create");
            exit(1);
        }
        have_timer = 1;
    }
    __atomic_store_n(&worker_ready, 1, __ATOMIC_RELEASE);
    if (mode == MODE_TGKILL) {
        while (!__atomic_load_n(&sender_ready, __ATOMIC_ACQUIRE)) {
        }
    }
    if (have_timer) {
        struct itimerspec its = {
            .it_interval = {.tv_sec = interval_us / 1000000,
                            .tv_nsec = (interval_us % 1000000) * 1000},
            .it_value = {.tv_sec = interval_us / 1000000,
                         .tv_nsec = (interval_us % 1000000) * 1000}};
        timer_settime(timer, 0, &its, NULL);
    }
    uint64_t w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    spin_fixed(kiter);
    wall_ns = now_ns(CLOCK_MONOTONIC) - w0;
    cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (have_timer) {
        timer_delete(timer);
    }
    __atomic_store_n(&worker_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s none|tgkill|timer INTERVAL_US KITER\n",
                argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "none") == 0) {
        mode = MODE_NONE;
    } else if (strcmp(argv[1], "tgkill") == 0) {
        mode = MODE_TGKILL;
    } else if (strcmp(argv[1], "timer") == 0) {
        mode = MODE_TIMER;
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    interval_us = atol(argv[2]);
    kiter = atol(argv[3]);
    if (kiter <= 0 || (mode != MODE_NONE && interval_us <= 0)) {
        fprintf(stderr, "bad interval or kiter\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(FLOOR_SIGNAL, &sa, NULL);

    pthread_t worker, sender;
    pthread_create(&worker, NULL, worker_main, NULL);
    if (mode == MODE_TGKILL) {
        pthread_create(&sender, NULL, sender_main, NULL);
    }
    pthread_join(worker, NULL);
    if (mode == MODE_TGKILL) {
        pthread_join(sender, NULL);
    }
    printf("{\"mode\": \"%s\", \"interval_us\": %ld, \"kiter\": %ld, "
           "\"wall_us\": %.1f, \"cpu_us\": %.1f, \"signals\": %lu, "
           "\"sent\": %lu}\n",
           argv[1], interval_us, kiter, (double)wall_ns / 1e3,
           (double)cpu_ns / 1e3, delivered, sent);
    return 0;
}
