#include "rp_sampler.h"

#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "rp_proc.h"
#include "rp_script.h"
#include "rp_syscall_site.h"
#include "rp_unwind.h"

#define SAMPLER_MAGIC 0x52505332u /* "RPS2" */
#define HEADER_WORDS (sizeof(rp_sample_t) / sizeof(uintptr_t))
/* The handler's own frame and the signal trampoline sit above the
 * interrupted frame in what unw_backtrace returns. */
#define HANDLER_FRAMES 4
/* CPU time a signalled thread may use between its handler's end and its
 * return into the restarted wait (sigreturn, the call's entry). */
#define SIGNALLED_WAIT_SLACK_NS 30000u

/* The handshake between the sampler thread and the signal handler: the
 * sampler sets REQUESTED and signals; the handler, and only then, fills the
 * mailbox and sets FILLED; the sampler copies it out and sets IDLE. */
enum { MAILBOX_IDLE = 0, MAILBOX_REQUESTED = 1, MAILBOX_FILLED = 2 };

/* The stack a blocked thread is waiting in, reused while it stays there. */
typedef struct wait_stack {
    int valid;
    int from_proc;   /* unwound from /proc registers */
    int from_signal; /* captured by the thread's own handler, once */
    int confirmed;   /* seen back in its wait after the handler */
    int switches_known;
    uint64_t switches; /* voluntary context switches once back in it */
    uint64_t cpu_ns;   /* thread CPU clock while blocked in it */
    uintptr_t sp, pc;
    long syscall;
    uint16_t depth;
    uint16_t flags;
    uintptr_t ips[RP_MAX_DEPTH];
    rp_stack_check_t check;
} wait_stack_t;

struct rp_sampler {
    uint32_t magic;
    int owned; /* a live thread holds it */
    pid_t tid;
    pthread_t thread;
    clockid_t cpu_clock;
    rp_proc_thread_t proc;
    uintptr_t stack_lo, stack_hi, root_pc;
    sigset_t saved_mask;
    int mask_changed; /* the signal is unblocked; saved_mask restores it */
    /* Signals sent to this thread (by the sampler thread, under lock) and
     * signals its handler saw: equal at a session's end, none is in flight
     * and none can be pending (the sampler thread signals running sessions
     * only). Never reset. */
    uint64_t signals_sent;
    uint64_t signals_arrived;
    uint32_t tag; /* set by the owning thread, read when sampling */

    /* Session state, under this sampler's own lock: the sampler thread
     * holds it while it ticks this sampler only, so a request starting or
     * ending never waits while other threads are sampled. */
    pthread_mutex_t lock;
    uint64_t active_session; /* 0 when idle; atomic reads elsewhere */
    uint64_t last_session;
    rp_clock_e clock;
    apr_interval_time_t interval_us;
    uint64_t interval_ns;
    uint64_t start_ns, next_due_ns;
    uint64_t last_tick_ns; /* when the sampler thread last ticked it */
    uint64_t last_cpu_ns, cpu_carry_ns;
    unsigned max_samples;
    uint64_t max_duration_ns;
    int seen_blocked;
    uint64_t cpu_seen_blocked;
    int no_wait_signals; /* a signal broke a call that could not be restarted:
                            blocked threads are left alone from then on */
    wait_stack_t wait;

    /* Mailbox: written by the handler while REQUESTED, read by the sampler
     * thread once FILLED. */
    int mailbox_state;
    uint32_t mailbox_weight;
    uint32_t mailbox_flags;
    uint64_t mailbox_t_ns;
    uint16_t mailbox_depth;
    uint16_t mailbox_truncated;
    uint16_t mailbox_interrupted; /* a BROKEN_* value */
    int32_t mailbox_syscall;      /* the call the thread was in, or -1 */
    uint64_t mailbox_cpu_ns;      /* its CPU clock as the handler ended */
    int64_t mailbox_switches;     /* its voluntary context switches then,
                                     or -1 */
    /* The call and stack pointer /proc last showed the thread blocked in
     * (-1: none yet), for the handler (see broke_seen_wait). */
    long seen_wait_syscall;
    uintptr_t seen_wait_sp;

    /* The last stack captured on CPU, under lock. */
    uint16_t last_cpu_depth;
    uint16_t last_cpu_flags;
    uintptr_t last_cpu_ips[RP_MAX_DEPTH];
    uint32_t mailbox_tag;
    uintptr_t mailbox_ips[RP_MAX_DEPTH];

    /* The owning thread's own stack at its last phase change, published
     * without a lock: the thread must never wait for the sampler thread,
     * which holds the lock while it ticks (and may be preempted there on a
     * busy machine). known_seq is odd while a write is under way; the
     * sampler adopts a copy whose sequence did not change as it read it. */
    uint64_t known_seq;
    uint64_t known_adopted; /* the sequence last adopted, under lock */
    /* The session has been ticked: from then on phase changes publish
     * their stack. Before its first tick nothing but that tick could use
     * one, and it takes the session's starting stack instead: an unwind
     * per phase change would cost more than all else a short request
     * costs. */
    int ticked;
    uint16_t known_depth;
    uint16_t known_flags;
    uintptr_t known_ips[RP_MAX_DEPTH];

    /* Script frames (rp_script) in this sampler's stacks: [0] written by
     * the signal handler, [1] by the sampler thread for blocked stacks.
     * Mapped at the first session of a process with a script engine. */
    rp_script_table_t *script[2];
    /* What the owning thread last announced for a script engine (the Lua
     * state it runs: rp_sampler_set_script_context). */
    uintptr_t script_context;

    /* Samples, appended by the sampler thread (or by stop), under lock. */
    uintptr_t *arena;
    size_t arena_words;
    size_t used_words;
    rp_sampler_stats_t stats;
    struct timespec start_wall, stop_wall, start_cpu, stop_cpu;
    uint64_t sampler_cpu_at_start;

    rp_sampler_t *next; /* registry of every sampler of the process */
};

static struct {
    int signo;
    pid_t pid;
    uid_t uid; /* as the process runs once it serves (set at its start) */
    /* Every session ticks on multiples of its interval since this instant,
     * so sessions with the same interval share one wake-up of the sampler
     * thread: its cost is the timer interrupt, paid once, not per session. */
    uint64_t epoch_ns;
    size_t arena_words;
    int ready;
    pthread_key_t thread_key;
    /* Guards the registry, the sampler thread's life and its sleep; the
     * sampler thread holds it while it runs (then it takes each sampler's
     * own lock in turn). Sessions never take it, but to wake that thread. */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a session started, or shutdown */
    /* When the sampler thread means to wake next (UINT64_MAX: not before a
     * session starts; 0: it is about to look). A session whose first tick
     * is not earlier needs no wake-up: waking the thread for every request
     * costs two context switches each. */
    uint64_t wake_at_ns;
    /* Counts session starts: a start that did not wake the sampler thread
     * (it was looking) makes it look again before it sleeps. */
    uint64_t starts;
    /* The sampler thread's CPU time, as it last read it before sleeping:
     * sessions take their share from it without a system call. */
    uint64_t sampler_cpu_ns;
    rp_sampler_t *registry;
    int thread_running;
    int stopping;
    pthread_t thread;
    rp_unwinder_t *unwinder; /* used by the sampler thread only */
    int unwinder_failed;
} process = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- time ---------------------------------------------------------------- */

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) {
        return 0;
    }
    return ts_ns(&ts);
}

static uint64_t elapsed_ns(const struct timespec *from,
                           const struct timespec *to)
{
    uint64_t a = ts_ns(from), b = ts_ns(to);
    return b > a ? b - a : 0;
}

/* ---- the signal handler (async-signal-safe) ------------------------------ */

/* What the signal did to a system call the thread was in. */
enum { BROKE_NOTHING = 0, BROKE_RESTARTED = 1, BROKE_FOR_GOOD = 2 };

/* The bytes before the `syscall` instruction at pc - 2, within its page
 * (which is certainly mapped: the thread just executed from it). */
static long syscall_number_before(uintptr_t pc)
{
    const uintptr_t page = ~(uintptr_t)4095;
    uintptr_t end = pc - 2;
    uintptr_t from =
        end > RP_SYSCALL_SITE_WINDOW ? end - RP_SYSCALL_SITE_WINDOW : 0;
    if ((from & page) != (end & page)) {
        from = end & page;
    }
    return rp_syscall_site_number((const unsigned char *)from,
                                  (size_t)(end - from));
}

static int is_syscall_instruction(uintptr_t at)
{
    const uintptr_t page = ~(uintptr_t)4095;
    if (((at + 1) & page) != (at & page)) {
        return 0;
    }
    const unsigned char *code = (const unsigned char *)at;
    return code[0] == 0x0f && code[1] == 0x05;
}

/* The signal broke a relative sleep: Linux wrote the time still to sleep
 * into the caller's remainder argument, so sleep that, not the whole. */
static void sleep_only_the_rest(greg_t *regs, long nr)
{
    if (nr == SYS_nanosleep && regs[REG_RSI] != 0) {
        regs[REG_RDI] = regs[REG_RSI];
    } else if (nr == SYS_clock_nanosleep && regs[REG_RSI] == 0 &&
               regs[REG_R10] != 0) {
        regs[REG_RDX] = regs[REG_R10];
    }
}

/* How a call the signal broke goes on. */
typedef struct broken_call {
    int outcome;   /* BROKE_* */
    int32_t nr;    /* the call the thread was in, or -1 */
    int resumable; /* Linux kept its restart state (see resume_broken_call) */
} broken_call_t;

/* Calls for which Linux keeps, until the handler returns, what it needs to
 * go on where it stopped: poll's and relative sleeps' end time, a futex
 * wait's deadline. */
static int keeps_restart_state(const greg_t *regs, long nr)
{
    return nr == SYS_poll || nr == SYS_nanosleep || nr == SYS_futex ||
           (nr == SYS_clock_nanosleep && !(regs[REG_RSI] & TIMER_ABSTIME));
}

/* A signal that lands in a blocking call breaks it: poll(), epoll_wait(),
 * nanosleep() and friends return EINTR even with SA_RESTART, and callers
 * such as mod_reqtimeout's body reader fail the request on it. When the
 * call was issued by code that loads its number as an immediate (glibc's
 * wrappers), it goes on: see resume_broken_call. Only reads the context. */
static broken_call_t classify_broken_call(const ucontext_t *uc)
{
    const greg_t *regs = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)regs[REG_RIP];
    broken_call_t call = {BROKE_NOTHING, -1, 0};
    if (regs[REG_RAX] != -EINTR) {
        /* SA_RESTART calls (read, futex, ...) were rewound by the kernel:
         * the thread is about to issue the call in %rax again. */
        if (is_syscall_instruction(pc) && regs[REG_RAX] >= 0 &&
            regs[REG_RAX] < 1024) {
            call.nr = (int32_t)regs[REG_RAX];
        }
        return call;
    }
    if (pc < 2 || !is_syscall_instruction(pc - 2)) {
        return call; /* not a system call's return value */
    }
    long nr = syscall_number_before(pc);
    call.nr = (int32_t)nr;
    if (nr < 0 || !rp_syscall_restartable(nr)) {
        call.outcome = BROKE_FOR_GOOD;
        return call;
    }
    call.outcome = BROKE_RESTARTED;
    call.resumable = keeps_restart_state(regs, nr);
    return call;
}

/* getrusage(RUSAGE_THREAD) without errno: one system call. */
static long raw_thread_usage(struct rusage *usage)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_getrusage), "D"((long)RUSAGE_THREAD),
                       "S"(usage)
                     : "rcx", "r11", "memory");
    return ret;
}

static long raw_restart_syscall(void)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_restart_syscall)
                     : "rcx", "r11", "memory");
    return ret;
}

/* Lets a broken call go on. Where Linux kept the call's restart state, the
 * handler resumes it right here with restart_syscall(2): the wait ends when
 * it would have (poll's and a sleep's end time are absolute there), and its
 * result becomes the call's. Elsewhere -- or where another signal's handler
 * cleared that state meanwhile -- the call is issued again from the start,
 * as the kernel does for restartable calls: its arguments are still in
 * their registers; select, pselect and ppoll have had their timeouts
 * updated, and a relative sleep goes on with the time Linux said was
 * left. */
static void resume_broken_call(ucontext_t *uc, const broken_call_t *call)
{
    if (call->outcome != BROKE_RESTARTED) {
        return;
    }
    greg_t *regs = uc->uc_mcontext.gregs;
    if (call->resumable) {
        long ret = raw_restart_syscall();
        if (ret != -EINTR) {
            regs[REG_RAX] = ret;
            return;
        }
    }
    sleep_only_the_rest(regs, call->nr);
    regs[REG_RIP] -= 2;
    regs[REG_RAX] = call->nr;
}

static void capture_into_mailbox(rp_sampler_t *s, ucontext_t *uc,
                                 const broken_call_t *call)
{
    s->mailbox_interrupted = (uint16_t)call->outcome;
    s->mailbox_syscall = call->nr;
    void *frames[RP_MAX_DEPTH + HANDLER_FRAMES];
    int n = unw_backtrace(frames, RP_MAX_DEPTH + HANDLER_FRAMES);
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    int first = 0;
    while (first < n && (uintptr_t)frames[first] != pc) {
        first++;
    }
    uint16_t truncated = 0;
    if (first >= n) {
        /* The unwinder did not cross the signal frame: keep the one frame
         * that is certain. */
        frames[0] = (void *)pc;
        first = 0;
        n = 1;
        truncated = 1;
    } else if (n == RP_MAX_DEPTH + HANDLER_FRAMES || n - first > RP_MAX_DEPTH) {
        truncated = 1;
    }
    int depth = n - first > RP_MAX_DEPTH ? RP_MAX_DEPTH : n - first;
    for (int i = 0; i < depth; i++) {
        s->mailbox_ips[i] = (uintptr_t)frames[first + i];
    }
    int cut = 0;
    depth = rp_script_splice_stack(
        s->script[0], __atomic_load_n(&s->script_context, __ATOMIC_RELAXED),
        s->mailbox_ips, depth, RP_MAX_DEPTH, &cut);
    truncated |= (uint16_t)cut;
    s->mailbox_depth = (uint16_t)depth;
    s->mailbox_truncated = truncated;
    s->mailbox_tag = __atomic_load_n(&s->tag, __ATOMIC_RELAXED);
    /* Where a thread caught in a call goes back to its wait: while its
     * clock stays here, it has not left it (see wait_stack_current). Read
     * only then (keep_signalled_wait): two system calls per sample. */
    s->mailbox_cpu_ns = 0;
    s->mailbox_switches = -1;
    if (call->nr >= 0) {
        struct timespec cpu;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
            s->mailbox_cpu_ns = ts_ns(&cpu);
        }
        struct rusage usage;
        if (raw_thread_usage(&usage) == 0) {
            s->mailbox_switches = usage.ru_nvcsw;
        }
    }
}

/* The broken call is the one /proc last showed the thread blocked in (the
 * same call at the same stack pointer): the thread had already woken from
 * it -- its time was up, or it was answered -- and ran a little in the
 * kernel on its way out, long enough to read as running and be signalled,
 * but the signal came before the call returned. Issued again, the call
 * would wait its whole time once more (a 2 s proxy timeout that fires after
 * 4 s); resumed, it returns at once with what it was about to return. */
static int broke_seen_wait(const rp_sampler_t *s, const ucontext_t *uc,
                           const broken_call_t *call)
{
    return call->nr >= 0 &&
           call->nr ==
               __atomic_load_n(&s->seen_wait_syscall, __ATOMIC_RELAXED) &&
           (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] ==
               __atomic_load_n(&s->seen_wait_sp, __ATOMIC_RELAXED);
}

static void on_sample_signal(int signo, siginfo_t *si, void *ucontext)
{
    (void)signo;
    int saved_errno = errno;
    rp_sampler_t *s = si->si_value.sival_ptr;
    if (si->si_code != SI_QUEUE || si->si_pid != process.pid || s == NULL ||
        s->magic != SAMPLER_MAGIC) {
        errno = saved_errno;
        return; /* not ours */
    }
    __atomic_add_fetch(&s->signals_arrived, 1, __ATOMIC_RELEASE);
    ucontext_t *uc = ucontext;
    broken_call_t call = classify_broken_call(uc);
    if (__atomic_load_n(&s->mailbox_state, __ATOMIC_ACQUIRE) ==
        MAILBOX_REQUESTED) {
        capture_into_mailbox(s, uc, &call);
        __atomic_store_n(&s->mailbox_state, MAILBOX_FILLED, __ATOMIC_RELEASE);
    }
    /* Even a late signal (its session over) must not break a wait. After
     * the mailbox is filled: resuming may block in here. Where /proc shows
     * blocked threads' registers, the sampler unwinds waits in place and
     * would find this handler's frames on top of them: there the call is
     * issued again instead (the signal caught it on entry, so nothing is
     * lost) -- unless it is the wait /proc showed, which the thread was
     * leaving (broke_seen_wait). */
    if (s->proc.syscall_fd >= 0 && !broke_seen_wait(s, uc, &call)) {
        call.resumable = 0;
    }
    resume_broken_call(uc, &call);
    errno = saved_errno;
}

/* ---- recording (sampler thread, under the sampler's lock) -----------------
 */

static void append_sample(rp_sampler_t *s, const uintptr_t *ips, int depth,
                          uint32_t weight, uint16_t flags, long syscall_nr,
                          uint32_t tag, uint64_t t_ns)
{
    size_t words = HEADER_WORDS + (size_t)depth;
    if (weight == 0) {
        return;
    }
    if (s->max_samples != 0 && s->stats.samples >= s->max_samples) {
        s->stats.capped = 1;
        return;
    }
    if (s->used_words + words > s->arena_words) {
        s->stats.dropped += weight;
        return;
    }
    rp_sample_t *sample = (rp_sample_t *)(s->arena + s->used_words);
    sample->depth = (uint16_t)depth;
    sample->flags = flags;
    sample->weight = weight;
    sample->t_ns = t_ns;
    sample->syscall = (int32_t)syscall_nr;
    sample->tag = tag;
    memcpy(sample->ips, ips, sizeof(uintptr_t) * (size_t)depth);
    s->used_words += words;
    s->stats.samples++;
    s->stats.weight += weight;
    if (flags & RP_SAMPLE_WAITING) {
        s->stats.wait_weight += weight;
    }
}

static void append_wait_sample(rp_sampler_t *s, uint32_t weight, uint64_t t_ns);

/* The stack a blocked thread's handler captured becomes its wait stack,
 * reused until the thread runs again. */
static void keep_signalled_wait(rp_sampler_t *s, uint16_t flags)
{
    wait_stack_t *w = &s->wait;
    w->valid = 1;
    w->from_proc = 0;
    w->from_signal = 1;
    w->confirmed = 0;
    /* It blocks once more as it goes back into the call; blocking again
     * means another wait. */
    w->switches_known = s->mailbox_switches >= 0;
    w->switches = (uint64_t)s->mailbox_switches + 1;
    w->cpu_ns = s->mailbox_cpu_ns;
    w->syscall = s->mailbox_syscall;
    w->depth = s->mailbox_depth;
    w->flags = (uint16_t)(flags & RP_SAMPLE_TRUNCATED);
    memcpy(w->ips, s->mailbox_ips, sizeof(uintptr_t) * s->mailbox_depth);
}

static void collect_mailbox(rp_sampler_t *s)
{
    if (__atomic_load_n(&s->mailbox_state, __ATOMIC_ACQUIRE) !=
        MAILBOX_FILLED) {
        return;
    }
    uint16_t flags = (uint16_t)(s->mailbox_flags & 0xff);
    if (s->mailbox_truncated) {
        flags |= RP_SAMPLE_TRUNCATED;
    }
    if (s->mailbox_interrupted != BROKE_NOTHING) {
        s->stats.interrupted_waits++;
    }
    if (s->mailbox_interrupted == BROKE_FOR_GOOD) {
        s->stats.broken_waits++;
        s->no_wait_signals = 1;
    }
    if ((flags & RP_SAMPLE_WAITING) && s->mailbox_syscall >= 0) {
        keep_signalled_wait(s, flags);
        append_wait_sample(s, s->mailbox_weight, s->mailbox_t_ns);
    } else if (flags & RP_SAMPLE_WAITING) {
        /* The thread had left its wait by the time the signal came: where
         * it is now is no wait stack to keep. */
        append_sample(s, s->mailbox_ips, s->mailbox_depth, s->mailbox_weight,
                      flags, -1, s->mailbox_tag, s->mailbox_t_ns);
    } else {
        append_sample(s, s->mailbox_ips, s->mailbox_depth, s->mailbox_weight,
                      flags, -1, s->mailbox_tag, s->mailbox_t_ns);
        /* Kept for the waits nothing else can show (see sample_waiting). */
        s->last_cpu_depth = s->mailbox_depth;
        s->last_cpu_flags = flags;
        memcpy(s->last_cpu_ips, s->mailbox_ips,
               sizeof(uintptr_t) * s->mailbox_depth);
        if (s->mailbox_syscall >= 0 && s->proc.syscall_fd < 0) {
            /* Caught entering a call, which the handler let go on: the
             * thread now waits in it, with this stack. Kept, so the wait
             * is not signalled again -- a signal the handler itself holds
             * off while it resumes the call would only answer once the wait
             * is over, from wherever the thread is then. */
            keep_signalled_wait(s, flags);
        }
    }
    __atomic_store_n(&s->mailbox_state, MAILBOX_IDLE, __ATOMIC_RELEASE);
}

static int send_sample_signal(rp_sampler_t *s)
{
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    info.si_signo = process.signo;
    info.si_code = SI_QUEUE;
    info.si_pid = process.pid;
    info.si_uid = process.uid;
    info.si_value.sival_ptr = s;
    return (int)syscall(SYS_rt_tgsigqueueinfo, process.pid, s->tid,
                        process.signo, &info);
}

/* Asks the thread for its stack. If the last request is still unanswered
 * (the thread has not been scheduled), the weight joins it instead. */
static void request_stack(rp_sampler_t *s, uint32_t weight, uint32_t flags,
                          uint64_t t_ns)
{
    if (__atomic_load_n(&s->mailbox_state, __ATOMIC_ACQUIRE) ==
        MAILBOX_REQUESTED) {
        /* tick() counted the intervals the sampler itself missed; this
         * tick's own interval joins the earlier sample too. */
        s->mailbox_weight += weight;
        s->stats.late_intervals += 1;
        return;
    }
    s->mailbox_weight = weight;
    s->mailbox_flags = flags;
    s->mailbox_t_ns = t_ns;
    __atomic_store_n(&s->mailbox_state, MAILBOX_REQUESTED, __ATOMIC_RELEASE);
    if (send_sample_signal(s) != 0) {
        __atomic_store_n(&s->mailbox_state, MAILBOX_IDLE, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&s->signals_sent, s->signals_sent + 1, __ATOMIC_RELEASE);
    s->stats.signals++;
    if (flags & RP_SAMPLE_WAITING) {
        s->stats.wait_signals++;
    }
}

static int same_blocked_place(const wait_stack_t *w,
                              const rp_thread_status_t *st)
{
    return st->has_registers && w->sp == st->sp && w->pc == st->pc &&
           w->syscall == st->syscall;
}

/* After its handler a signalled thread spends a few microseconds going back
 * into the restarted call. More CPU than that, or blocking more than once
 * since the signal (a short wait ended and another began), and it is no
 * longer the wait whose stack the handler caught. Once confirmed, the wait
 * stack holds while the thread's CPU clock stands still. */
static int confirm_signalled_wait(rp_sampler_t *s, uint64_t cpu)
{
    wait_stack_t *w = &s->wait;
    if (cpu < w->cpu_ns || cpu - w->cpu_ns > SIGNALLED_WAIT_SLACK_NS) {
        return 0;
    }
    uint64_t switches;
    if (w->switches_known &&
        (!rp_proc_read_voluntary_switches(&s->proc, &switches) ||
         switches != w->switches)) {
        return 0;
    }
    w->confirmed = 1;
    w->cpu_ns = cpu;
    return 1;
}

/* Whether the cached wait stack is still where the thread waits. */
static int wait_stack_current(rp_sampler_t *s, const rp_thread_status_t *st,
                              uint64_t cpu)
{
    wait_stack_t *w = &s->wait;
    if (!w->valid) {
        return 0;
    }
    if (w->from_proc && st->has_registers) {
        return same_blocked_place(w, st) &&
               rp_stack_check_still_valid(&w->check);
    }
    if (w->from_signal && !w->confirmed) {
        return confirm_signalled_wait(s, cpu);
    }
    return cpu == w->cpu_ns;
}

static rp_unwinder_t *sampler_unwinder(void)
{
    if (process.unwinder == NULL && !process.unwinder_failed) {
        process.unwinder = rp_unwinder_create();
        process.unwinder_failed = process.unwinder == NULL;
    }
    return process.unwinder;
}

int rp_sampler_prepare_unwinder(void)
{
    rp_unwinder_t *u = sampler_unwinder();
    return u != NULL ? rp_unwinder_open_all(u) : -1;
}

/* Unwinds a blocked thread from /proc's registers, without a signal.
 * Returns 0 if it could not (the caller then falls back to a signal). */
static int unwind_blocked(rp_sampler_t *s, const rp_thread_status_t *st,
                          uint64_t cpu)
{
    rp_unwinder_t *u = sampler_unwinder();
    if (u == NULL) {
        return 0;
    }
    wait_stack_t *w = &s->wait;
    rp_blocked_thread_t bt = {.tid = s->tid,
                              .pc = st->pc,
                              .sp = st->sp,
                              .stack_lo = s->stack_lo,
                              .stack_hi = s->stack_hi,
                              .root_pc = s->root_pc};
    int depth = rp_unwinder_unwind(u, &bt, w->ips, RP_MAX_DEPTH, &w->check);
    s->stats.remote_unwinds++;
    rp_thread_status_t again;
    rp_proc_read(&s->proc, &again);
    w->valid = 0;
    if (depth == 0) {
        return 0;
    }
    if (again.state != RP_THREAD_BLOCKED || again.sp != st->sp ||
        again.pc != st->pc || again.syscall != st->syscall) {
        /* It woke while we read its stack: what we read may be torn. */
        s->stats.stale_unwinds++;
        return -1;
    }
    int cut = depth == RP_MAX_DEPTH;
    depth = rp_script_splice_stack(
        s->script[1], __atomic_load_n(&s->script_context, __ATOMIC_RELAXED),
        w->ips, depth, RP_MAX_DEPTH, &cut);
    w->valid = 1;
    w->from_proc = 1;
    w->from_signal = 0;
    w->cpu_ns = cpu;
    w->sp = st->sp;
    w->pc = st->pc;
    w->syscall = st->syscall;
    w->depth = (uint16_t)depth;
    w->flags = cut ? RP_SAMPLE_TRUNCATED : 0;
    return 1;
}

/* A waiting sample with the stack the thread waits in. */
static void append_wait_sample(rp_sampler_t *s, uint32_t weight, uint64_t t_ns)
{
    const wait_stack_t *w = &s->wait;
    append_sample(s, w->ips, w->depth, weight, w->flags | RP_SAMPLE_WAITING,
                  w->syscall, __atomic_load_n(&s->tag, __ATOMIC_RELAXED), t_ns);
}

/* Where /proc hides a blocked thread's registers (a process that is not
 * dumpable), its wait is filed under the stack last seen on CPU. Signalling
 * it for its stack would break the wait: poll() and epoll_wait() return
 * EINTR, and callers such as mod_reqtimeout's body reader fail the request
 * on it instead of retrying. */
static void use_last_cpu_stack(rp_sampler_t *s, uint64_t cpu)
{
    wait_stack_t *w = &s->wait;
    w->valid = 1;
    w->from_proc = 0;
    w->from_signal = 0;
    w->cpu_ns = cpu;
    w->syscall = RP_SYSCALL_UNREADABLE;
    w->depth = s->last_cpu_depth;
    w->flags = s->last_cpu_flags;
    memcpy(w->ips, s->last_cpu_ips, sizeof(uintptr_t) * w->depth);
}

/* On the sampler thread, under lock: takes the owning thread's latest
 * published stack as the last one known, unless it is being rewritten (the
 * next tick will see it) or was taken already. */
static void adopt_known_stack(rp_sampler_t *s)
{
    uint64_t before = __atomic_load_n(&s->known_seq, __ATOMIC_ACQUIRE);
    if ((before & 1) != 0 || before == s->known_adopted) {
        return;
    }
    uintptr_t ips[RP_MAX_DEPTH];
    uint16_t depth = __atomic_load_n(&s->known_depth, __ATOMIC_RELAXED);
    uint16_t flags = __atomic_load_n(&s->known_flags, __ATOMIC_RELAXED);
    if (depth > RP_MAX_DEPTH) {
        return;
    }
    for (uint16_t i = 0; i < depth; i++) {
        ips[i] = __atomic_load_n(&s->known_ips[i], __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&s->known_seq, __ATOMIC_RELAXED) != before) {
        return;
    }
    s->known_adopted = before;
    s->last_cpu_depth = depth;
    s->last_cpu_flags = flags;
    memcpy(s->last_cpu_ips, ips, sizeof(uintptr_t) * depth);
}

/* Whether a blocked thread may be asked for its stack: once per blocking
 * episode, where /proc hides its registers, unless a signal already broke
 * a call of this session for good, or the kernel says the thread waits for
 * a signal itself or in a call that cannot be issued twice. */
static int may_signal_blocked(rp_sampler_t *s)
{
    if (s->no_wait_signals) {
        return 0;
    }
    char wchan[64];
    if (rp_proc_read_wchan(&s->proc, wchan, sizeof(wchan)) &&
        !rp_proc_wchan_restartable(wchan)) {
        s->stats.unsignalled_waits++;
        return 0;
    }
    return 1;
}

static void sample_waiting(rp_sampler_t *s, const rp_thread_status_t *st,
                           uint64_t cpu, uint32_t weight, uint64_t t_ns)
{
    if (!wait_stack_current(s, st, cpu)) {
        int unwound = st->has_registers ? unwind_blocked(s, st, cpu) : 0;
        if (unwound < 0) {
            return;
        }
        if (unwound == 0 && !st->has_registers && may_signal_blocked(s)) {
            /* The handler captures the stack and restarts the wait; the
             * sample is filed when the sampler collects it. */
            request_stack(s, weight, RP_SAMPLE_WAITING, t_ns);
            return;
        }
        if (unwound == 0) {
            use_last_cpu_stack(s, cpu);
        }
    }
    append_wait_sample(s, weight, t_ns);
}

static void (*tick_hook)(void);

void rp_sampler_set_tick_hook(void (*hook)(void))
{
    pthread_mutex_lock(&process.lock);
    tick_hook = hook;
    pthread_mutex_unlock(&process.lock);
}

static void tick(rp_sampler_t *s, uint64_t now)
{
    if (tick_hook != NULL) {
        tick_hook();
    }
    uint64_t intervals = 1 + (now - s->next_due_ns) / s->interval_ns;
    s->next_due_ns += intervals * s->interval_ns; /* absolute: no drift */
    s->stats.late_intervals += (unsigned)(intervals - 1);
    uint64_t t_ns = now - s->start_ns;
    s->last_tick_ns = now;
    __atomic_store_n(&s->ticked, 1, __ATOMIC_RELAXED);
    adopt_known_stack(s); /* before the mailbox, which may be newer */
    collect_mailbox(s);
    if ((s->max_duration_ns != 0 && t_ns >= s->max_duration_ns) ||
        (s->max_samples != 0 && s->stats.samples >= s->max_samples)) {
        s->stats.capped = 1;
        s->next_due_ns = UINT64_MAX; /* no more ticks for this session */
        return;
    }

    uint64_t cpu = clock_ns(s->cpu_clock);
    uint64_t cpu_delta = cpu > s->last_cpu_ns ? cpu - s->last_cpu_ns : 0;
    s->last_cpu_ns = cpu;
    rp_thread_status_t st;
    if (cpu_delta == 0 && s->seen_blocked && s->wait.valid) {
        /* It has not run since it was seen blocked: still blocked where it
         * was, and its stack cannot have changed. No need to ask /proc. */
        if (s->clock == RP_CLOCK_WALL) {
            append_wait_sample(s, (uint32_t)intervals, t_ns);
        }
        return;
    }
    rp_proc_read(&s->proc, &st);
    /* Just woken, or just entering a wait, a thread reads as running
     * although it has not run since it was seen blocked: leave it alone. */
    int running = st.state != RP_THREAD_BLOCKED &&
                  !(s->seen_blocked && cpu == s->cpu_seen_blocked);

    if (s->clock == RP_CLOCK_CPU) {
        s->cpu_carry_ns += cpu_delta;
        uint64_t due = s->cpu_carry_ns / s->interval_ns;
        if (running && due > 0) {
            s->cpu_carry_ns -= due * s->interval_ns;
            request_stack(s, (uint32_t)due, 0, t_ns);
        }
    } else if (running) {
        request_stack(s, (uint32_t)intervals, 0, t_ns);
    } else {
        sample_waiting(s, &st, cpu, (uint32_t)intervals, t_ns);
    }
    if (st.state == RP_THREAD_BLOCKED) {
        s->seen_blocked = 1;
        s->cpu_seen_blocked = cpu;
        if (st.has_registers) {
            __atomic_store_n(&s->seen_wait_sp, st.sp, __ATOMIC_RELAXED);
            __atomic_store_n(&s->seen_wait_syscall, st.syscall,
                             __ATOMIC_RELAXED);
        }
    } else if (running) {
        s->seen_blocked = 0;
    }
}

/* ---- the sampler thread ---------------------------------------------------
 */

/* One pass over the registry, under process.lock: ticks every session that
 * is due, each under its sampler's lock. Returns when the next one is due
 * (UINT64_MAX: none is running). */
static uint64_t tick_due_samplers(void)
{
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    uint64_t next = UINT64_MAX;
    for (rp_sampler_t *s = process.registry; s != NULL; s = s->next) {
        if (__atomic_load_n(&s->active_session, __ATOMIC_ACQUIRE) == 0) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        if (s->active_session != 0) {
            if (s->next_due_ns <= now) {
                tick(s, now);
            }
            if (s->next_due_ns < next) {
                next = s->next_due_ns;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    return next;
}

/* Runs first thing on the sampler thread (tests check its signal mask). */
static void (*thread_entry_hook)(void);

void rp_sampler_set_thread_entry_hook(void (*hook)(void))
{
    thread_entry_hook = hook;
}

/* Starts with every signal blocked (see ensure_sampler_thread), and stays
 * so: no handler ever runs on this thread. */
static void *sampler_main(void *arg)
{
    (void)arg;
    if (thread_entry_hook != NULL) {
        thread_entry_hook();
    }
    /* A name that top -H, ps -L and the bench (which measures this
     * thread's CPU from /proc) can find it by. */
    pthread_setname_np(pthread_self(), "reqprof-sampler");
    /* Wake on time: the default 50us slack is half a 100us interval. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    pthread_mutex_lock(&process.lock);
    while (!process.stopping) {
        uint64_t starts = __atomic_load_n(&process.starts, __ATOMIC_SEQ_CST);
        uint64_t next = tick_due_samplers();
        /* A session that started during the pass saw wake_at_ns 0 and did
         * not wake this thread: look again. (Sequentially consistent on
         * both sides: the start sees the new wake_at_ns, or this thread
         * sees its count.) */
        __atomic_store_n(&process.wake_at_ns, next, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&process.starts, __ATOMIC_SEQ_CST) != starts) {
            __atomic_store_n(&process.wake_at_ns, 0, __ATOMIC_SEQ_CST);
            continue;
        }
        __atomic_store_n(&process.sampler_cpu_ns,
                         clock_ns(CLOCK_THREAD_CPUTIME_ID), __ATOMIC_RELAXED);
        if (next == UINT64_MAX) {
            pthread_cond_wait(&process.wake, &process.lock);
        } else {
            struct timespec until = {.tv_sec = (time_t)(next / 1000000000u),
                                     .tv_nsec = (long)(next % 1000000000u)};
            pthread_cond_timedwait(&process.wake, &process.lock, &until);
        }
        __atomic_store_n(&process.wake_at_ns, 0, __ATOMIC_SEQ_CST);
    }
    rp_unwinder_destroy(process.unwinder);
    process.unwinder = NULL;
    pthread_mutex_unlock(&process.lock);
    return NULL;
}

static int ensure_sampler_thread(void)
{
    if (process.thread_running) {
        return 0;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    /* A new thread inherits its creator's signal mask, and a process-directed
     * signal goes to any thread that does not block it. prefork runs its whole
     * child exit (destroying the pools the request thread is using) from its
     * SIGTERM/SIGHUP handler, so were this thread to take that signal even
     * once -- say in the moment before it could block signals itself -- the
     * request thread would crash. It is born with every signal blocked. */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    process.wake_at_ns = 0; /* it looks at the registry first thing */
    int rc = pthread_create(&process.thread, &attr, sampler_main, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0) {
        __atomic_store_n(&process.thread_running, 1, __ATOMIC_RELEASE);
    }
    return rc;
}

int rp_sampler_start_thread(void)
{
    if (!process.ready) {
        return EINVAL;
    }
    pthread_mutex_lock(&process.lock);
    int rc = ensure_sampler_thread();
    pthread_mutex_unlock(&process.lock);
    return rc;
}

/* ---- process and thread registration --------------------------------------
 */

/* Thread-exit destructor: the sampler goes back to the registry for the
 * next thread (mod_http2 starts and ends worker threads as load changes). */
static void release_to_idle(void *arg)
{
    rp_sampler_t *s = arg;
    rp_sampler_stop(s, rp_sampler_session(s));
    pthread_mutex_lock(&process.lock);
    pthread_mutex_lock(&s->lock);
    rp_proc_close(&s->proc);
    s->owned = 0;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&process.lock);
}

/* What signo's disposition says: 1 this sampler's handler, 0 none (the
 * default action, or ignored), -1 a handler someone else installed, or the
 * disposition cannot be read. */
static int signal_owner(int signo)
{
    struct sigaction now;
    if (sigaction(signo, NULL, &now) != 0) {
        return -1;
    }
    if (now.sa_flags & SA_SIGINFO) {
        return now.sa_sigaction == on_sample_signal ? 1 : -1;
    }
    return now.sa_handler == SIG_DFL || now.sa_handler == SIG_IGN ? 0 : -1;
}

apr_status_t rp_sampler_init_process(int signo, apr_size_t arena_bytes)
{
    if (signo < SIGRTMIN || signo > SIGRTMAX) {
        return APR_EINVAL;
    }
    /* Another module's or library's handler on the signal (a timer of its
     * own) is left alone: taking it over would break that code and feed it
     * our signals. */
    int owner = signal_owner(process.ready ? process.signo : signo);
    if (process.ready) {
        return owner == 1 ? APR_SUCCESS : RP_SAMPLER_SIGNAL_TAKEN;
    }
    if (owner < 0) {
        return RP_SAMPLER_SIGNAL_TAKEN;
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
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&process.wake, &cattr);
    pthread_condattr_destroy(&cattr);
    /* Each thread then keeps its own unwind cache: no lock in the handler. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    process.signo = signo;
    process.pid = getpid();
    process.uid = getuid();
    process.epoch_ns = clock_ns(CLOCK_MONOTONIC);
    process.arena_words = arena_bytes / sizeof(uintptr_t);
    process.stopping = 0;
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
    pthread_mutex_init(&s->lock, NULL);
    s->arena = arena;
    s->arena_words = process.arena_words;
    s->proc.syscall_fd = s->proc.stat_fd = s->proc.wchan_fd =
        s->proc.status_fd = -1;
    s->seen_wait_syscall = -1;
    s->next = process.registry;
    process.registry = s;
    return s;
}

/* For tests: threads adopted from now on are sampled as in a process that
 * is not dumpable, whose blocked threads' registers /proc hides. */
static int hide_proc_registers;

void rp_sampler_hide_proc_registers(int hide)
{
    hide_proc_registers = hide;
}

static void adopt(rp_sampler_t *s)
{
    s->owned = 1;
    s->mask_changed = 0;
    __atomic_store_n(&s->seen_wait_syscall, -1, __ATOMIC_RELAXED);
    s->tid = (pid_t)syscall(SYS_gettid);
    s->thread = pthread_self();
    if (pthread_getcpuclockid(s->thread, &s->cpu_clock) != 0) {
        s->cpu_clock = CLOCK_THREAD_CPUTIME_ID;
    }
    rp_proc_open(&s->proc, s->tid);
    if (hide_proc_registers && s->proc.syscall_fd >= 0) {
        close(s->proc.syscall_fd);
        s->proc.syscall_fd = -1;
        rp_proc_open_wait_files(&s->proc, s->tid);
    }
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(s->thread, &attr) == 0) {
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            s->stack_lo = (uintptr_t)addr;
            s->stack_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
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
        adopt(s);
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
    uint64_t sent = __atomic_load_n(&s->signals_sent, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&s->signals_arrived, __ATOMIC_ACQUIRE) != sent) {
        /* A signal of the session may still come: blocked, it is consumed
         * here rather than delivered later. (With none in flight, the one
         * system call below is all: this runs once per request.) */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, process.signo);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        struct timespec no_wait = {0, 0};
        while (sigtimedwait(&set, NULL, &no_wait) == process.signo) {
        }
        __atomic_store_n(&s->signals_arrived, sent, __ATOMIC_RELEASE);
    }
    pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
    s->mask_changed = 0;
}

/* frames[0..n) as unw_backtrace gave them in the caller: the stack last
 * known for this thread, without frames[0] (the caller itself). Under
 * lock. */
static void keep_known_stack(rp_sampler_t *s, void *const *frames, int n)
{
    if (n <= 1) {
        return;
    }
    int depth = n - 1 > RP_MAX_DEPTH ? RP_MAX_DEPTH : n - 1;
    for (int i = 0; i < depth; i++) {
        s->last_cpu_ips[i] = (uintptr_t)frames[i + 1];
    }
    s->last_cpu_depth = (uint16_t)depth;
    s->last_cpu_flags = n - 1 >= RP_MAX_DEPTH ? RP_SAMPLE_TRUNCATED : 0;
}

static void reset_session(rp_sampler_t *s, rp_clock_e clock,
                          apr_interval_time_t interval_us)
{
    memset(&s->stats, 0, sizeof(s->stats));
    s->used_words = 0;
    s->clock = clock;
    s->interval_us = interval_us;
    s->interval_ns = (uint64_t)interval_us * 1000u;
    s->stats.interval_us = interval_us;
    s->stats.clock = clock;
    s->stats.proc_readable = s->proc.syscall_fd >= 0;
    s->cpu_carry_ns = 0;
    s->last_tick_ns = 0;
    s->seen_blocked = 0;
    s->no_wait_signals = 0;
    s->wait.valid = 0;
    s->last_cpu_depth = 0;
    s->ticked = 0;
    s->tag = 0;
    for (int i = 0; i < 2; i++) {
        if (s->script[i] != NULL) {
            rp_script_table_reset(s->script[i]);
        }
    }
    __atomic_store_n(&s->mailbox_state, MAILBOX_IDLE, __ATOMIC_RELEASE);
}

/* A process with a script engine: the tables its frames are named in,
 * mapped once per sampler (their pages are touched only as frames come). */
static void map_script_tables(rp_sampler_t *s)
{
    if (!rp_script_engine_present() || s->script[1] != NULL) {
        return;
    }
    for (unsigned i = 0; i < 2; i++) {
        if (s->script[i] == NULL) {
            s->script[i] = rp_script_table_create(i);
        }
    }
}

/* After a session started: the sampler thread is woken only if it would
 * otherwise sleep past the session's first tick. Under load it is awake
 * or due sooner anyway, and waking it for every request would cost two
 * context switches each. */
static void wake_sampler_for(uint64_t due_ns)
{
    __atomic_add_fetch(&process.starts, 1, __ATOMIC_SEQ_CST);
    if (due_ns >= __atomic_load_n(&process.wake_at_ns, __ATOMIC_SEQ_CST)) {
        return; /* it wakes in time, or is looking (wake_at_ns 0) */
    }
    pthread_mutex_lock(&process.lock);
    if (due_ns < process.wake_at_ns) {
        pthread_cond_signal(&process.wake);
    }
    pthread_mutex_unlock(&process.lock);
}

apr_status_t rp_sampler_start(rp_sampler_t *s, rp_clock_e clock,
                              apr_interval_time_t interval_us,
                              uint64_t *session)
{
    if (s == NULL || !process.ready || !on_owning_thread(s) ||
        interval_us <= 0) {
        return APR_EINVAL;
    }
    if (rp_sampler_is_active(s)) {
        return APR_EBUSY;
    }
    /* Code that ran after init_process may have installed its own handler
     * on the signal: it would get every sample request, and the default
     * action of a realtime signal ends the process. */
    if (signal_owner(process.signo) != 1) {
        return RP_SAMPLER_SIGNAL_TAKEN;
    }
    /* The first unwind in a thread allocates libunwind's per-thread cache
     * and thread-local storage; do it here, never in the handler. It also
     * gives the thread's outermost frame, where every full unwind of it
     * ends, and the first stack known for the session. */
    void *frames[RP_MAX_DEPTH + 1];
    int n = unw_backtrace(frames, RP_MAX_DEPTH + 1);
    s->root_pc = n > 0 && n < RP_MAX_DEPTH ? (uintptr_t)frames[n - 1] : 0;
    apr_status_t rv = unblock_signal(s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Clocks read before the lock: the sampler thread waits for it. */
    struct timespec start_wall, start_cpu;
    clock_gettime(CLOCK_MONOTONIC, &start_wall);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start_cpu);
    /* Running already if the process started it (rp_sampler_start_thread);
     * otherwise now. */
    int rc = __atomic_load_n(&process.thread_running, __ATOMIC_ACQUIRE)
                 ? 0
                 : rp_sampler_start_thread();
    if (rc != 0) {
        restore_signal_mask(s);
        return rc;
    }
    map_script_tables(s);
    pthread_mutex_lock(&s->lock);
    reset_session(s, clock, interval_us);
    keep_known_stack(s, frames, n);
    /* What an earlier session published is older than this stack. */
    s->known_adopted = __atomic_load_n(&s->known_seq, __ATOMIC_ACQUIRE);
    s->start_wall = start_wall;
    s->start_cpu = start_cpu;
    s->stop_wall = s->start_wall;
    s->stop_cpu = s->start_cpu;
    s->start_ns = ts_ns(&s->start_wall);
    s->next_due_ns = process.epoch_ns +
                     ((s->start_ns - process.epoch_ns) / s->interval_ns + 1) *
                         s->interval_ns;
    s->last_cpu_ns = ts_ns(&s->start_cpu);
    s->sampler_cpu_at_start =
        __atomic_load_n(&process.sampler_cpu_ns, __ATOMIC_RELAXED);
    *session = ++s->last_session;
    __atomic_store_n(&s->active_session, *session, __ATOMIC_RELEASE);
    uint64_t due = s->next_due_ns;
    pthread_mutex_unlock(&s->lock);
    wake_sampler_for(due);
    return APR_SUCCESS;
}

void rp_sampler_stop(rp_sampler_t *s, uint64_t session)
{
    if (s == NULL || session == 0) {
        return;
    }
    /* Clocks read before the lock: the sampler thread waits for it. */
    int owner = on_owning_thread(s);
    struct timespec stop_wall, stop_cpu;
    clock_gettime(CLOCK_MONOTONIC, &stop_wall);
    clock_gettime(owner ? CLOCK_THREAD_CPUTIME_ID : s->cpu_clock, &stop_cpu);
    pthread_mutex_lock(&s->lock);
    if (s->active_session != session) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    __atomic_store_n(&s->active_session, 0, __ATOMIC_RELEASE);
    collect_mailbox(s);
    /* An unanswered request is dropped: the handler ignores a late signal. */
    __atomic_store_n(&s->mailbox_state, MAILBOX_IDLE, __ATOMIC_RELEASE);
    /* The clock was read before the lock: a tick that came in between
     * belongs to the session, which then lasted until it. */
    if (s->last_tick_ns > ts_ns(&stop_wall)) {
        stop_wall.tv_sec = (time_t)(s->last_tick_ns / 1000000000u);
        stop_wall.tv_nsec = (long)(s->last_tick_ns % 1000000000u);
    }
    s->stop_wall = stop_wall;
    s->stop_cpu = stop_cpu;
    uint64_t sampler_cpu =
        __atomic_load_n(&process.sampler_cpu_ns, __ATOMIC_RELAXED);
    s->stats.sampler_cpu_ns = sampler_cpu > s->sampler_cpu_at_start
                                  ? sampler_cpu - s->sampler_cpu_at_start
                                  : 0;
    pthread_mutex_unlock(&s->lock);
    if (owner) {
        /* What the thread ran is announced anew in each session. */
        __atomic_store_n(&s->script_context, 0, __ATOMIC_RELAXED);
        restore_signal_mask(s);
    }
}

void rp_sampler_set_limits(rp_sampler_t *s, unsigned max_samples,
                           apr_interval_time_t max_duration_us)
{
    pthread_mutex_lock(&s->lock);
    s->max_samples = max_samples;
    s->max_duration_ns =
        max_duration_us > 0 ? (uint64_t)max_duration_us * 1000u : 0;
    pthread_mutex_unlock(&s->lock);
}

/* The caller's own stack, as the last one known for this thread: a wait
 * that nothing else can show is filed under it (use_last_cpu_stack), so it
 * is never a root of its own. Skips this function's frame. Lock-free: a
 * phase change never waits for the sampler thread. */
static void remember_known_stack(rp_sampler_t *s)
{
    void *frames[RP_MAX_DEPTH + 1];
    int n = unw_backtrace(frames, RP_MAX_DEPTH + 1);
    if (n <= 1) {
        return;
    }
    int depth = n - 1 > RP_MAX_DEPTH ? RP_MAX_DEPTH : n - 1;
    uint64_t seq = __atomic_load_n(&s->known_seq, __ATOMIC_RELAXED);
    __atomic_store_n(&s->known_seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (int i = 0; i < depth; i++) {
        __atomic_store_n(&s->known_ips[i], (uintptr_t)frames[i + 1],
                         __ATOMIC_RELAXED);
    }
    __atomic_store_n(&s->known_depth, (uint16_t)depth, __ATOMIC_RELAXED);
    __atomic_store_n(
        &s->known_flags,
        (uint16_t)(n - 1 >= RP_MAX_DEPTH ? RP_SAMPLE_TRUNCATED : 0),
        __ATOMIC_RELAXED);
    __atomic_store_n(&s->known_seq, seq + 2, __ATOMIC_RELEASE);
}

void rp_sampler_set_tag(rp_sampler_t *s, uint32_t tag)
{
    if (s == NULL) {
        return;
    }
    __atomic_store_n(&s->tag, tag, __ATOMIC_RELAXED);
    if (rp_sampler_is_active(s) && on_owning_thread(s) &&
        __atomic_load_n(&s->ticked, __ATOMIC_RELAXED)) {
        remember_known_stack(s);
    }
}

pid_t rp_sampler_thread_id(const rp_sampler_t *s)
{
    return s != NULL ? s->tid : (pid_t)syscall(SYS_gettid);
}

uint64_t rp_sampler_session(const rp_sampler_t *s)
{
    return s == NULL ? 0
                     : __atomic_load_n(&s->active_session, __ATOMIC_ACQUIRE);
}

void rp_sampler_set_script_context(rp_sampler_t *s, uintptr_t context)
{
    if (s != NULL) {
        __atomic_store_n(&s->script_context, context, __ATOMIC_RELAXED);
    }
}

int rp_sampler_script_frame(const rp_sampler_t *s, uintptr_t word,
                            rp_script_frame_t *out)
{
    for (int i = 0; i < 2; i++) {
        if (s->script[i] != NULL &&
            rp_script_table_get(s->script[i], word, out)) {
            return 1;
        }
    }
    return 0;
}

int rp_sampler_is_active(const rp_sampler_t *s)
{
    return rp_sampler_session(s) != 0;
}

void rp_sampler_stats(const rp_sampler_t *s, rp_sampler_stats_t *out)
{
    *out = s->stats;
    out->wall_ns = elapsed_ns(&s->start_wall, &s->stop_wall);
    out->cpu_ns = elapsed_ns(&s->start_cpu, &s->stop_cpu);
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
    /* Only the owning thread, between sessions, reads the buffer. */
    if (s == NULL || rp_sampler_is_active(s) || !on_owning_thread(s)) {
        return;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = s->used_words * sizeof(uintptr_t);
    bytes = (bytes + page - 1) / page * page;
    if (bytes > 0) {
        madvise(s->arena, bytes, MADV_DONTNEED);
    }
    s->used_words = 0;
    s->stats.samples = 0;
    s->stats.weight = 0;
    s->stats.wait_weight = 0;
    s->stats.dropped = 0;
}

/* Shutdown may run from an exit signal handler that interrupted code
 * holding a lock: the sampler's own (then this thread never gets it), or
 * malloc's (then the sampler thread may never finish its tick). So it waits
 * a bounded time for either, and otherwise leaves all to the process exit. */
static struct timespec deadline_in_ms(long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

static int lock_for_shutdown(void)
{
    struct timespec until = deadline_in_ms(500);
    return pthread_mutex_timedlock(&process.lock, &until) == 0;
}

static int join_sampler_thread(void)
{
    struct timespec until = deadline_in_ms(2000);
    return pthread_timedjoin_np(process.thread, NULL, &until) == 0;
}

void rp_sampler_shutdown_process(void)
{
    if (!process.ready) {
        return;
    }
    if (!lock_for_shutdown()) {
        return;
    }
    for (rp_sampler_t *s = process.registry; s != NULL; s = s->next) {
        __atomic_store_n(&s->active_session, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&s->mailbox_state, MAILBOX_IDLE, __ATOMIC_RELEASE);
    }
    process.stopping = 1;
    pthread_cond_broadcast(&process.wake);
    int joining = process.thread_running;
    pthread_mutex_unlock(&process.lock);
    if (joining && !join_sampler_thread()) {
        return;
    }
    if (!lock_for_shutdown()) {
        return;
    }
    __atomic_store_n(&process.thread_running, 0, __ATOMIC_RELEASE);
    rp_sampler_t **link = &process.registry;
    while (*link != NULL) {
        rp_sampler_t *s = *link;
        if (s->owned) {
            /* Its thread may still run; the process exit reclaims it. */
            link = &s->next;
            continue;
        }
        *link = s->next;
        munmap(s->arena, s->arena_words * sizeof(uintptr_t));
        rp_script_table_destroy(s->script[0]);
        rp_script_table_destroy(s->script[1]);
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
    process.stopping = 0;
    pthread_mutex_unlock(&process.lock);
}
