#include "rp_sampler.h"

#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* glibc 2.36 has no name for the thread id of SIGEV_THREAD_ID. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define SAMPLER_MAGIC 0x52505331u /* "RPS1" */
#define HEADER_WORDS (sizeof(rp_sample_t) / sizeof(uintptr_t))
/* The handler's own frame and the signal trampoline sit above the
 * interrupted frame in what unw_backtrace returns. */
#define HANDLER_FRAMES 4

struct rp_sampler {
    uint32_t magic;
    /* The running session's number, 0 when idle. Sessions are numbered so
     * a cleanup running late on another thread cannot stop the session a
     * later request started on this sampler's thread. */
    uint64_t active_session;
    uint64_t last_session;
    int owned; /* a live thread holds it */
    pid_t tid;
    pthread_t thread;
    timer_t timer;
    sigset_t saved_mask;
    int mask_changed; /* the signal is unblocked and saved_mask holds the
                         mask to restore */

    /* Written only by the signal handler on the owning thread while active. */
    uintptr_t *arena;
    size_t arena_words;
    size_t used_words;
    unsigned samples;
    uint64_t weight;
    unsigned dropped;

    struct timespec start_wall, stop_wall;
    struct timespec start_cpu, stop_cpu;
    apr_interval_time_t interval_us;
    rp_clock_e clock;

    rp_sampler_t *next; /* registry of every sampler of the process */
};

static struct {
    int signo;
    size_t arena_words;
    int ready;
    pthread_key_t thread_key;
    pthread_mutex_t lock; /* guards registry and owned */
    rp_sampler_t *registry;
} process = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t elapsed_ns(const struct timespec *from,
                           const struct timespec *to)
{
    int64_t ns = (int64_t)(to->tv_sec - from->tv_sec) * 1000000000 +
                 (to->tv_nsec - from->tv_nsec);
    return ns > 0 ? (uint64_t)ns : 0;
}

/* Async-signal-safe: no allocation, no locks, no stdio. */
static void record_sample(rp_sampler_t *s, const ucontext_t *uc,
                          uint32_t weight)
{
    void *frames[RP_MAX_DEPTH + HANDLER_FRAMES];
    int n = unw_backtrace(frames, RP_MAX_DEPTH + HANDLER_FRAMES);
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    int first = 0;
    while (first < n && (uintptr_t)frames[first] != pc) {
        first++;
    }
    uint16_t flags = 0;
    if (first >= n) {
        /* The unwinder did not cross the signal frame: keep the one frame
         * that is certain. */
        frames[0] = (void *)pc;
        first = 0;
        n = 1;
        flags = RP_SAMPLE_TRUNCATED;
    } else if (n == RP_MAX_DEPTH + HANDLER_FRAMES || n - first > RP_MAX_DEPTH) {
        flags = RP_SAMPLE_TRUNCATED;
    }
    int depth = n - first;
    if (depth > RP_MAX_DEPTH) {
        depth = RP_MAX_DEPTH;
    }
    size_t words = HEADER_WORDS + (size_t)depth;
    if (s->used_words + words > s->arena_words) {
        s->dropped += weight;
        return;
    }
    rp_sample_t *sample = (rp_sample_t *)(s->arena + s->used_words);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    sample->depth = (uint16_t)depth;
    sample->flags = flags;
    sample->weight = weight;
    sample->t_ns = elapsed_ns(&s->start_wall, &now);
    for (int i = 0; i < depth; i++) {
        sample->ips[i] = (uintptr_t)frames[first + i];
    }
    s->used_words += words;
    s->samples++;
    s->weight += weight;
}

static void on_sample_signal(int signo, siginfo_t *si, void *ucontext)
{
    (void)signo;
    int saved_errno = errno;
    rp_sampler_t *s = si->si_value.sival_ptr;
    if (si->si_code == SI_TIMER && s != NULL && s->magic == SAMPLER_MAGIC &&
        __atomic_load_n(&s->active_session, __ATOMIC_RELAXED) != 0) {
        uint32_t weight =
            1 + (si->si_overrun > 0 ? (uint32_t)si->si_overrun : 0);
        record_sample(s, ucontext, weight);
    }
    errno = saved_errno;
}

/* Thread-exit destructor: the sampler goes back to the registry for the
 * next thread (mod_http2 starts and ends worker threads as load changes). */
static void release_to_idle(void *arg)
{
    rp_sampler_t *s = arg;
    rp_sampler_stop(s, __atomic_load_n(&s->active_session, __ATOMIC_ACQUIRE));
    pthread_mutex_lock(&process.lock);
    s->owned = 0;
    pthread_mutex_unlock(&process.lock);
}

apr_status_t rp_sampler_init_process(int signo, apr_size_t arena_bytes)
{
    if (signo < SIGRTMIN || signo > SIGRTMAX) {
        return APR_EINVAL;
    }
    if (process.ready) {
        return APR_SUCCESS;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sample_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0) {
        return errno;
    }
    int rc = pthread_key_create(&process.thread_key, release_to_idle);
    if (rc != 0) {
        return rc;
    }
    /* Each thread then keeps its own unwind cache: no lock in the handler. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    process.signo = signo;
    process.arena_words = arena_bytes / sizeof(uintptr_t);
    process.ready = 1;
    return APR_SUCCESS;
}

static rp_sampler_t *create_sampler(void)
{
    rp_sampler_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    size_t bytes = process.arena_words * sizeof(uintptr_t);
    void *arena = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED) {
        free(s);
        return NULL;
    }
    s->magic = SAMPLER_MAGIC;
    s->arena = arena;
    s->arena_words = process.arena_words;
    s->next = process.registry;
    process.registry = s;
    return s;
}

rp_sampler_t *rp_sampler_for_this_thread(void)
{
    if (!process.ready) {
        return NULL;
    }
    rp_sampler_t *s = pthread_getspecific(process.thread_key);
    if (s != NULL) {
        return s;
    }
    pthread_mutex_lock(&process.lock);
    for (s = process.registry; s != NULL && s->owned; s = s->next) {
    }
    if (s == NULL) {
        s = create_sampler();
    }
    if (s != NULL) {
        s->owned = 1;
        s->mask_changed = 0;
        s->tid = (pid_t)syscall(SYS_gettid);
        s->thread = pthread_self();
    }
    pthread_mutex_unlock(&process.lock);
    if (s != NULL && pthread_setspecific(process.thread_key, s) != 0) {
        release_to_idle(s);
        return NULL;
    }
    return s;
}

static int on_owning_thread(const rp_sampler_t *s)
{
    return pthread_equal(s->thread, pthread_self());
}

static apr_status_t unblock_signal(rp_sampler_t *s)
{
    sigset_t set;
    sigset_t previous;
    sigemptyset(&set);
    sigaddset(&set, process.signo);
    int rc = pthread_sigmask(SIG_UNBLOCK, &set, &previous);
    if (rc != 0) {
        return rc;
    }
    /* After a stop from another thread the signal is still unblocked here;
     * the mask saved before that is the one to restore. */
    if (!s->mask_changed) {
        s->saved_mask = previous;
        s->mask_changed = 1;
    }
    return APR_SUCCESS;
}

static void restore_signal_mask(rp_sampler_t *s)
{
    if (!s->mask_changed) {
        return;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, process.signo);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* A signal already queued before the timer was deleted is consumed
     * here, while blocked, rather than delivered later. */
    struct timespec no_wait = {0, 0};
    while (sigtimedwait(&set, NULL, &no_wait) == process.signo) {
    }
    pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
    s->mask_changed = 0;
}

static void reset_counters(rp_sampler_t *s)
{
    s->used_words = 0;
    s->samples = 0;
    s->weight = 0;
    s->dropped = 0;
}

apr_status_t rp_sampler_start(rp_sampler_t *s, rp_clock_e clock,
                              apr_interval_time_t interval_us,
                              uint64_t *session)
{
    if (s == NULL || !process.ready || !on_owning_thread(s)) {
        return APR_EINVAL;
    }
    if (rp_sampler_is_active(s)) {
        return APR_EBUSY;
    }
    /* The first unwind in a thread allocates libunwind's per-thread cache
     * and thread-local storage; do it here, never in the handler. */
    void *warm_up[8];
    unw_backtrace(warm_up, 8);

    reset_counters(s);
    s->clock = clock;
    s->interval_us = interval_us;
    apr_status_t rv = unblock_signal(s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = process.signo;
    sev.sigev_value.sival_ptr = s;
    sev.sigev_notify_thread_id = s->tid;
    clockid_t clock_id =
        clock == RP_CLOCK_CPU ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    if (timer_create(clock_id, &sev, &s->timer) != 0) {
        rv = errno;
        restore_signal_mask(s);
        return rv;
    }
    clock_gettime(CLOCK_MONOTONIC, &s->start_wall);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s->start_cpu);
    s->stop_wall = s->start_wall;
    s->stop_cpu = s->start_cpu;
    *session = ++s->last_session;
    __atomic_store_n(&s->active_session, *session, __ATOMIC_RELEASE);
    struct itimerspec spec;
    spec.it_interval.tv_sec = interval_us / 1000000;
    spec.it_interval.tv_nsec = (interval_us % 1000000) * 1000;
    spec.it_value = spec.it_interval;
    if (timer_settime(s->timer, 0, &spec, NULL) != 0) {
        rv = errno;
        rp_sampler_stop(s, *session);
        return rv;
    }
    return APR_SUCCESS;
}

void rp_sampler_stop(rp_sampler_t *s, uint64_t session)
{
    if (s == NULL || session == 0) {
        return;
    }
    /* The timer belongs to the session and cannot change while it runs;
     * read it before the session ends and another may begin. */
    timer_t timer = s->timer;
    uint64_t expected = session;
    if (!__atomic_compare_exchange_n(&s->active_session, &expected, 0, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return;
    }
    /* Deleting the timer also removes its signal if it is queued but not yet
     * delivered, so no sample arrives after this. */
    timer_delete(timer);
    clock_gettime(CLOCK_MONOTONIC, &s->stop_wall);
    if (on_owning_thread(s)) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s->stop_cpu);
        restore_signal_mask(s);
    } else {
        clockid_t cpu_clock;
        if (pthread_getcpuclockid(s->thread, &cpu_clock) == 0) {
            clock_gettime(cpu_clock, &s->stop_cpu);
        }
    }
}

uint64_t rp_sampler_session(const rp_sampler_t *s)
{
    return s == NULL ? 0
                     : __atomic_load_n(&s->active_session, __ATOMIC_ACQUIRE);
}

int rp_sampler_is_active(const rp_sampler_t *s)
{
    return rp_sampler_session(s) != 0;
}

void rp_sampler_stats(const rp_sampler_t *s, rp_sampler_stats_t *out)
{
    out->samples = s->samples;
    out->weight = s->weight;
    out->dropped = s->dropped;
    out->wall_ns = elapsed_ns(&s->start_wall, &s->stop_wall);
    out->cpu_ns = elapsed_ns(&s->start_cpu, &s->stop_cpu);
    out->interval_us = s->interval_us;
    out->clock = s->clock;
}

const rp_sample_t *rp_sampler_next(const rp_sampler_t *s,
                                   const rp_sample_t *prev)
{
    const uintptr_t *next =
        prev == NULL ? s->arena
                     : (const uintptr_t *)prev + HEADER_WORDS + prev->depth;
    if (next >= s->arena + s->used_words) {
        return NULL;
    }
    return (const rp_sample_t *)next;
}

void rp_sampler_discard(rp_sampler_t *s)
{
    /* Only the owning thread may touch the buffer its handler writes. */
    if (s == NULL || rp_sampler_is_active(s) || !on_owning_thread(s)) {
        return;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = s->used_words * sizeof(uintptr_t);
    bytes = (bytes + page - 1) / page * page;
    if (bytes > 0) {
        madvise(s->arena, bytes, MADV_DONTNEED);
    }
    reset_counters(s);
}

void rp_sampler_shutdown_process(void)
{
    if (!process.ready) {
        return;
    }
    pthread_mutex_lock(&process.lock);
    rp_sampler_t **link = &process.registry;
    while (*link != NULL) {
        rp_sampler_t *s = *link;
        rp_sampler_stop(s, rp_sampler_session(s));
        if (s->owned) {
            /* Its thread may still be running; leave it to process exit. */
            link = &s->next;
            continue;
        }
        *link = s->next;
        munmap(s->arena, s->arena_words * sizeof(uintptr_t));
        free(s);
    }
    pthread_mutex_unlock(&process.lock);
}
