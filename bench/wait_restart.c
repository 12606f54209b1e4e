/* Which blocking calls the sampler can interrupt and restart, measured.
 *
 * In a process that is not dumpable, /proc hides a blocked thread's
 * registers, so the sampler signals the thread once per blocking episode;
 * its handler captures the stack and issues the broken call again. This
 * program runs each kind of wait a server meets, once unprofiled and once
 * sampled at 1 ms with /proc's registers hidden, and prints one Markdown
 * table row per call: whether the caller saw EINTR, how many signals went
 * to the waiting thread, what share of the wait sits under the function
 * that waited, and how long the wait took against the unprofiled one.
 * Linked against the core (build: make wait-table). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <apr_general.h>
#include <apr_pools.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rp_sampler.h"
#include "rp_symbols.h"

#define WAIT_MS 100
#define SIGNO (SIGRTMIN + 5)
#define NOINLINE __attribute__((noinline, noclone))
#define KEEP(x) __asm__ volatile("" : "+r"(x))

static rp_symbols_t *symbols;

static uint64_t clock_now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
    return clock_now_ns(CLOCK_MONOTONIC);
}

static uint64_t cpu_ns(void)
{
    return clock_now_ns(CLOCK_THREAD_CPUTIME_ID);
}

static struct timespec ms_ts(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    return ts;
}

static struct timespec abs_in(clockid_t clock, int ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

/* Each returns 1 if the call failed with EINTR, as its caller would see. */
#define EINTR_IF(expr) ((expr) < 0 && errno == EINTR)

static NOINLINE int w_poll(void)
{
    int r = EINTR_IF(poll(NULL, 0, WAIT_MS));
    KEEP(r);
    return r;
}
static NOINLINE int w_ppoll(void)
{
    struct timespec ts = ms_ts(WAIT_MS);
    int r = EINTR_IF(ppoll(NULL, 0, &ts, NULL));
    KEEP(r);
    return r;
}
static NOINLINE int w_select(void)
{
    struct timeval tv = {0, WAIT_MS * 1000};
    int r = EINTR_IF(select(0, NULL, NULL, NULL, &tv));
    KEEP(r);
    return r;
}
static NOINLINE int w_pselect(void)
{
    struct timespec ts = ms_ts(WAIT_MS);
    int r = EINTR_IF(pselect(0, NULL, NULL, NULL, &ts, NULL));
    KEEP(r);
    return r;
}
static NOINLINE int w_epoll_wait(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    int r = EINTR_IF(epoll_wait(ep, &ev, 1, WAIT_MS));
    close(ep);
    KEEP(r);
    return r;
}
static NOINLINE int w_epoll_pwait2(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    struct timespec ts = ms_ts(WAIT_MS);
    int r = EINTR_IF(epoll_pwait2(ep, &ev, 1, &ts, NULL));
    close(ep);
    KEEP(r);
    return r;
}
static NOINLINE int w_nanosleep(void)
{
    struct timespec ts = ms_ts(WAIT_MS);
    int r = EINTR_IF(nanosleep(&ts, NULL));
    KEEP(r);
    return r;
}
static NOINLINE int w_clock_nanosleep_abs(void)
{
    struct timespec ts = abs_in(CLOCK_MONOTONIC, WAIT_MS);
    int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    int r = rc == EINTR;
    KEEP(r);
    return r;
}
static NOINLINE int w_usleep(void)
{
    int r = EINTR_IF(usleep(WAIT_MS * 1000));
    KEEP(r);
    return r;
}
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static NOINLINE int w_cond_timedwait(void)
{
    struct timespec ts = abs_in(CLOCK_REALTIME, WAIT_MS);
    pthread_mutex_lock(&lock);
    int rc = pthread_cond_timedwait(&cond, &lock, &ts);
    pthread_mutex_unlock(&lock);
    int r = rc == EINTR;
    KEEP(r);
    return r;
}
static NOINLINE int w_sem_timedwait(void)
{
    sem_t sem;
    sem_init(&sem, 0, 0);
    struct timespec ts = abs_in(CLOCK_REALTIME, WAIT_MS);
    int r = EINTR_IF(sem_timedwait(&sem, &ts));
    sem_destroy(&sem);
    KEEP(r);
    return r;
}
static void *hold_lock_briefly(void *arg)
{
    pthread_mutex_lock(&lock);
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
    struct timespec ts = ms_ts(WAIT_MS);
    nanosleep(&ts, NULL);
    pthread_mutex_unlock(&lock);
    return NULL;
}
static NOINLINE int w_mutex_lock(void)
{
    pthread_t holder;
    int held = 0;
    pthread_create(&holder, NULL, hold_lock_briefly, &held);
    while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE)) {
        sched_yield();
    }
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    pthread_join(holder, NULL);
    return 0; /* pthread_mutex_lock never returns EINTR */
}
static void *write_later(void *arg)
{
    struct timespec ts = ms_ts(WAIT_MS);
    nanosleep(&ts, NULL);
    if (write(*(int *)arg, "x", 1) != 1) {
        perror("write");
    }
    return NULL;
}
static NOINLINE int w_pipe_read(void)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pthread_t writer;
    pthread_create(&writer, NULL, write_later, &p[1]);
    char c;
    int r = EINTR_IF(read(p[0], &c, 1));
    pthread_join(writer, NULL);
    close(p[0]);
    close(p[1]);
    KEEP(r);
    return r;
}
static int timed_socket(int type)
{
    int pair[2];
    if (socketpair(AF_UNIX, type, 0, pair) != 0) {
        return -1;
    }
    struct timeval tv = {0, WAIT_MS * 1000};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    close(pair[1]); /* a stream peer that never writes: keep it open */
    return pair[0];
}
static NOINLINE int w_recv_rcvtimeo(void)
{
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    struct timeval tv = {0, WAIT_MS * 1000};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char c;
    int r = EINTR_IF(recv(pair[0], &c, 1, 0));
    close(pair[0]);
    close(pair[1]);
    KEEP(r);
    return r;
}
static NOINLINE int w_recvmsg_rcvtimeo(void)
{
    int fd = timed_socket(SOCK_DGRAM);
    char c;
    struct iovec iov = {&c, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    int r = EINTR_IF(recvmsg(fd, &msg, 0));
    close(fd);
    KEEP(r);
    return r;
}
static NOINLINE int w_accept_rcvtimeo(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&sa, sizeof(sa));
    listen(s, 1);
    struct timeval tv = {0, WAIT_MS * 1000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int r = EINTR_IF(accept(s, NULL, NULL));
    close(s);
    KEEP(r);
    return r;
}
static NOINLINE int w_syscall_poll(void)
{
    /* glibc's generic syscall(): the number arrives in a register. */
    int r = EINTR_IF(syscall(SYS_poll, NULL, 0, WAIT_MS));
    KEEP(r);
    return r;
}
static NOINLINE int w_sigtimedwait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct timespec ts = ms_ts(WAIT_MS);
    int r = EINTR_IF(sigtimedwait(&set, NULL, &ts));
    KEEP(r);
    return r;
}

typedef struct wait_case {
    const char *call;
    const char *func;
    int (*fn)(void);
} wait_case_t;

#define CASE(call, fn)                                                         \
    {                                                                          \
        call, #fn, fn                                                          \
    }
static const wait_case_t cases[] = {
    CASE("poll", w_poll),
    CASE("ppoll", w_ppoll),
    CASE("select (apr_sleep)", w_select),
    CASE("pselect", w_pselect),
    CASE("epoll_wait", w_epoll_wait),
    CASE("epoll_pwait2", w_epoll_pwait2),
    CASE("nanosleep (relative)", w_nanosleep),
    CASE("clock_nanosleep (absolute)", w_clock_nanosleep_abs),
    CASE("usleep", w_usleep),
    CASE("pthread_cond_timedwait (futex)", w_cond_timedwait),
    CASE("sem_timedwait (futex)", w_sem_timedwait),
    CASE("pthread_mutex_lock, contended (futex)", w_mutex_lock),
    CASE("read, pipe", w_pipe_read),
    CASE("recv, SO_RCVTIMEO", w_recv_rcvtimeo),
    CASE("recvmsg, SO_RCVTIMEO", w_recvmsg_rcvtimeo),
    CASE("accept, SO_RCVTIMEO", w_accept_rcvtimeo),
    CASE("syscall(SYS_poll, ...)", w_syscall_poll),
    CASE("sigtimedwait", w_sigtimedwait),
};

typedef struct result {
    int eintr;
    double plain_ms, profiled_ms;
    double plain_cpu_us, profiled_cpu_us;
    rp_sampler_stats_t st;
    uint64_t under, waiting;
} result_t;

static void attribute(const rp_sampler_t *s, const char *func, result_t *out)
{
    for (const rp_sample_t *x = rp_sampler_next(s, NULL); x != NULL;
         x = rp_sampler_next(s, x)) {
        if (!(x->flags & RP_SAMPLE_WAITING)) {
            continue;
        }
        out->waiting += x->weight;
        for (int i = 0; i < x->depth; i++) {
            if (strcmp(rp_symbols_lookup(symbols, x->ips[i], i > 0)->name,
                       func) == 0) {
                out->under += x->weight;
                break;
            }
        }
    }
}

typedef struct job {
    const wait_case_t *c;
    result_t r;
} job_t;

static void *run_case(void *arg)
{
    job_t *job = arg;
    sigset_t sampling;
    sigemptyset(&sampling);
    sigaddset(&sampling, SIGNO);
    pthread_sigmask(SIG_UNBLOCK, &sampling, NULL);
    rp_sampler_t *s = rp_sampler_for_this_thread();
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    job->c->fn();
    job->r.plain_cpu_us = (double)(cpu_ns() - c0) / 1e3;
    job->r.plain_ms = (double)(now_ns() - t0) / 1e6;
    uint64_t session;
    if (rp_sampler_start(s, RP_CLOCK_WALL, 1000, &session) != APR_SUCCESS) {
        fprintf(stderr, "cannot start a session\n");
        exit(1);
    }
    t0 = now_ns();
    c0 = cpu_ns();
    job->r.eintr = job->c->fn();
    job->r.profiled_cpu_us = (double)(cpu_ns() - c0) / 1e3;
    job->r.profiled_ms = (double)(now_ns() - t0) / 1e6;
    rp_sampler_stop(s, session);
    rp_sampler_stats(s, &job->r.st);
    attribute(s, job->c->func, &job->r);
    rp_sampler_discard(s);
    return NULL;
}

int main(void)
{
    apr_initialize();
    apr_pool_t *pool;
    apr_pool_create(&pool, NULL);
    if (rp_sampler_init_process(SIGNO, 4u << 20) != APR_SUCCESS ||
        rp_symbols_create(&symbols, pool) != APR_SUCCESS) {
        fprintf(stderr, "cannot set up the sampler\n");
        return 1;
    }
    rp_sampler_hide_proc_registers(1);
    printf("| call | caller saw EINTR | signals to the waiting thread | "
           "wait under its function | time, unprofiled → sampled | "
           "thread CPU, unprofiled → sampled |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        job_t job = {.c = &cases[i]};
        pthread_t t; /* a fresh thread each: its own sampler, hidden /proc */
        pthread_create(&t, NULL, run_case, &job);
        pthread_join(t, NULL);
        const result_t *r = &job.r;
        const char *note = r->st.broken_waits        ? " (not restartable)"
                           : r->st.unsignalled_waits ? " (left alone)"
                                                     : "";
        printf("| `%s` | %s | %u%s | %.0f %% | %.1f → %.1f ms | "
               "%.0f → %.0f µs |\n",
               cases[i].call, r->eintr ? "**yes**" : "no", r->st.wait_signals,
               note,
               r->waiting ? 100.0 * (double)r->under / (double)r->waiting : 0.0,
               r->plain_ms, r->profiled_ms, r->plain_cpu_us,
               r->profiled_cpu_us);
        fflush(stdout);
    }
    return 0;
}
