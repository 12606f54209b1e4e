/* rp_sampler: samples the call stacks of the threads that asked for it.
 *
 * One sampler thread per process keeps an absolute schedule for every
 * session. At each tick it asks /proc whether the thread is on CPU:
 *  - on CPU: it sends the thread a signal whose handler captures the stack
 *    with libunwind into a preallocated mailbox (async-signal-safe);
 *  - blocked: where /proc gives the blocked thread's stack pointer and
 *    program counter (a dumpable process, or a descriptor opened before the
 *    process dropped its privileges), it unwinds the stack itself without
 *    disturbing the wait. Otherwise it signals the thread once per blocking
 *    episode: the handler captures the stack and issues the broken call
 *    again (rp_syscall_site), and that stack is reused while the thread's
 *    CPU clock says it has not run.
 * Knows nothing of httpd. */
#ifndef RP_SAMPLER_H
#define RP_SAMPLER_H

#include <apr_errno.h>
#include <apr_time.h>
#include <stdint.h>

#include "rp_script.h"

typedef enum {
    RP_CLOCK_WALL = 0, /* waiting time counts */
    RP_CLOCK_CPU = 1   /* only time on CPU counts */
} rp_clock_e;

/* Deepest stack kept per sample; deeper stacks lose their outermost frames
 * and carry RP_SAMPLE_TRUNCATED. */
#define RP_MAX_DEPTH 128

#define RP_SAMPLE_TRUNCATED 0x1 /* outermost frames are missing */
#define RP_SAMPLE_WAITING 0x2   /* the thread was blocked, not on CPU */
#define RP_SYSCALL_UNREADABLE (-2)

typedef struct rp_sample {
    uint16_t depth;
    uint16_t flags;
    uint32_t weight; /* intervals this sample stands for */
    uint64_t t_ns;   /* time since sampling started */
    int32_t syscall; /* for waiting samples: the system call, -1 if none,
                        RP_SYSCALL_UNREADABLE if /proc hid it (the stack is
                        then the one last seen on CPU) */
    uint32_t tag;    /* the thread's tag when sampled (rp_sampler_set_tag) */
    /* ips[0] is the interrupted instruction; the others are return
     * addresses, innermost first. Words with RP_SCRIPT_TAG are script
     * frames (rp_sampler_script_frame names them). */
    uintptr_t ips[];
} rp_sample_t;

typedef struct rp_sampler rp_sampler_t;

typedef struct rp_sampler_stats {
    unsigned samples;     /* stacks recorded */
    uint64_t weight;      /* intervals they stand for */
    uint64_t wait_weight; /* of which the thread was waiting */
    unsigned dropped;     /* intervals lost because the buffer was full */
    uint64_t wall_ns;     /* from start to stop */
    uint64_t cpu_ns;      /* thread CPU time from start to stop */
    apr_interval_time_t interval_us;
    rp_clock_e clock;
    /* How the samples were taken. */
    int proc_readable;          /* /proc gave blocked threads' registers */
    unsigned signals;           /* signals sent to the thread */
    unsigned wait_signals;      /* of which went to a blocked thread, once
                                   per blocking episode, where /proc hides
                                   blocked threads' registers */
    unsigned remote_unwinds;    /* stacks unwound without a signal */
    unsigned stale_unwinds;     /* discarded: the thread moved meanwhile */
    unsigned late_intervals;    /* ticks the thread or the sampler missed */
    unsigned interrupted_waits; /* system calls a signal broke (EINTR) */
    unsigned broken_waits;      /* of which could not be issued again: the
                                   caller saw EINTR (then blocked threads are
                                   no longer signalled in this session) */
    unsigned unsignalled_waits; /* blocked episodes not signalled because
                                   the kernel showed a wait that a signal
                                   would end (sigsuspend, connect, ...) */
    uint64_t sampler_cpu_ns;    /* sampler thread CPU time, all sessions */
    int capped;                 /* sampling stopped at a limit */
} rp_sampler_stats_t;

/* The sampling signal has a handler that is not the sampler's: another
 * module or library installed it (init_process leaves it in place), or
 * replaced the sampler's own after init_process (start refuses). */
#define RP_SAMPLER_SIGNAL_TAKEN (APR_OS_START_USERERR + 1)

/* Installs the signal handler for this process (idempotent). arena_bytes is
 * the per-thread sample buffer, mapped lazily; untouched pages cost nothing.
 * The sampler thread starts with the first session, or with
 * rp_sampler_start_thread. Returns APR_EINVAL for a
 * signal outside SIGRTMIN..SIGRTMAX, RP_SAMPLER_SIGNAL_TAKEN if the signal
 * (once initialised: the process's signal) has a handler other than the
 * sampler's. */
apr_status_t rp_sampler_init_process(int signo, apr_size_t arena_bytes);

/* Starts the sampler thread now rather than with the first session: a
 * thread created when a session starts waits behind every runnable one
 * before it first runs (tens of milliseconds on a busy machine: the first
 * short profile of a process had no sample), whereas one that is asleep
 * when a session wakes it runs at once. Returns 0 or an errno. */
int rp_sampler_start_thread(void);

/* Creates the sampler thread's unwinder now and opens every loaded object
 * for it: for a process about to drop privileges, after which objects kept
 * where the new user cannot read them could not be opened, and the waits in
 * their functions could not be unwound (their CFI unread). Returns how many
 * objects were opened, -1 if the unwinder could not be created. */
int rp_sampler_prepare_unwinder(void);

/* Ends every session, stops the sampler thread and unmaps the buffers of
 * idle threads (child exit). */
void rp_sampler_shutdown_process(void);

/* The calling thread's sampler, created on first use; NULL if memory is
 * exhausted or the process is not initialised. */
rp_sampler_t *rp_sampler_for_this_thread(void);

/* Starts a session, whose number goes to *session. Must be called on the
 * sampler's own thread. RP_SAMPLER_SIGNAL_TAKEN: the signal's handler is no
 * longer the sampler's; nothing was started. */
apr_status_t rp_sampler_start(rp_sampler_t *s, rp_clock_e clock,
                              apr_interval_time_t interval_us,
                              uint64_t *session);

/* Ends the session if it is still the running one; no sample is taken
 * after it returns. On the owning thread it also drains a pending signal
 * and restores the thread's signal mask. From another thread (a cleanup
 * running elsewhere) it only ends the session; the mask is restored at the
 * thread's next start. */
void rp_sampler_stop(rp_sampler_t *s, uint64_t session);

/* Limits for the sessions started from now on: sampling stops (the
 * request goes on) after max_samples samples or max_duration_us of wall
 * time, and the stats say so. 0 means no limit. */
void rp_sampler_set_limits(rp_sampler_t *s, unsigned max_samples,
                           apr_interval_time_t max_duration_us);

/* Labels the samples taken from now on (the glue tags httpd's phases).
 * Call on the sampler's own thread; cheap enough for every hook. */
void rp_sampler_set_tag(rp_sampler_t *s, uint32_t tag);

/* The running session's number, or 0. */
uint64_t rp_sampler_session(const rp_sampler_t *s);
/* The kernel's id of the thread the sampler belongs to (NULL: the
 * caller's). */
pid_t rp_sampler_thread_id(const rp_sampler_t *s);

int rp_sampler_is_active(const rp_sampler_t *s);

/* What the owning thread runs in a script engine, for its splicer: Lua's
 * state as mod_lua announces it before each call (0: none). Cheap; call on
 * the sampler's own thread, whether a session runs or not. */
void rp_sampler_set_script_context(rp_sampler_t *s, uintptr_t context);

/* The script frame a word of a sample of the last session stands for
 * (rp_script_is_frame); 0 if it is none of this sampler's. */
int rp_sampler_script_frame(const rp_sampler_t *s, uintptr_t word,
                            rp_script_frame_t *out);

void rp_sampler_stats(const rp_sampler_t *s, rp_sampler_stats_t *out);

/* Iterates the recorded samples: pass NULL for the first. */
const rp_sample_t *rp_sampler_next(const rp_sampler_t *s,
                                   const rp_sample_t *prev);

/* Returns the buffer's pages to the kernel once the samples have been read.
 * Does nothing while a session runs or when called from another thread. */
void rp_sampler_discard(rp_sampler_t *s);

/* For tests: a function the sampler thread calls first thing, before it
 * does anything else (NULL: none). */
void rp_sampler_set_thread_entry_hook(void (*hook)(void));

/* For tests: a function the sampler thread calls at every tick, holding the
 * lock it ticks under (NULL: none). */
void rp_sampler_set_tick_hook(void (*hook)(void));

/* For tests: threads that get their sampler from now on are sampled as in
 * a process that is not dumpable (blocked threads' registers hidden). */
void rp_sampler_hide_proc_registers(int hide);

#endif
