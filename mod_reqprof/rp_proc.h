/* rp_proc: what Linux's /proc says about one thread of this process — is it
 * on CPU, and if it is blocked, in which system call, with which stack
 * pointer and program counter. Knows nothing of httpd. */
#ifndef RP_PROC_H
#define RP_PROC_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RP_THREAD_UNKNOWN = 0, /* unreadable, malformed, or the thread is gone */
    RP_THREAD_RUNNING,     /* on CPU or runnable */
    RP_THREAD_BLOCKED      /* sleeping: in a system call or a page fault */
} rp_thread_state_e;

typedef struct rp_thread_status {
    rp_thread_state_e state;
    int has_registers; /* syscall, sp and pc are known (from .../syscall) */
    long syscall;      /* -1: blocked, but not in a system call */
    uintptr_t sp;
    uintptr_t pc;
} rp_thread_status_t;

/* Parses the text of /proc/self/task/TID/syscall: "running", or "NR a1 ..
 * a6 SP PC", or "-1 SP PC". Returns 0 on malformed text. */
int rp_proc_parse_syscall(const char *text, rp_thread_status_t *out);

/* Parses the text of /proc/self/task/TID/stat (its state field). Returns 0
 * on malformed text. */
int rp_proc_parse_stat(const char *text, rp_thread_status_t *out);

/* Open descriptors for one thread's files; syscall_fd is -1 where the
 * process is not dumpable (the file is then owned by root, mode 0400). */
typedef struct rp_proc_thread {
    int syscall_fd;
    int stat_fd;
    int wchan_fd;  /* readable whatever the process's dumpability */
    int status_fd; /* likewise */
} rp_proc_thread_t;

/* Opens the thread's files. Returns 0 if not even stat can be opened. A
 * thread whose files were opened by rp_proc_preopen_this_thread gets
 * copies of those descriptors. */
int rp_proc_open(rp_proc_thread_t *t, long tid);

/* Opens what a sampler needs to signal a blocked thread once per wait
 * (wchan, status), where not open yet. rp_proc_open does it only where
 * .../syscall is unreadable, the one case that needs them. */
void rp_proc_open_wait_files(rp_proc_thread_t *t, long tid);

/* Opens the calling thread's files now, for a later rp_proc_open of the
 * same thread: call it while the process still has the privileges to read
 * them (before a server drops root, after which a process that is not
 * dumpable may no longer open its own .../syscall). One thread per
 * process; a later call replaces the earlier. */
void rp_proc_preopen_this_thread(void);

/* The kernel function a blocked thread waits in (/proc/.../wchan), e.g.
 * "do_epoll_wait". Returns 0 if unreadable. */
int rp_proc_read_wchan(const rp_proc_thread_t *t, char *buf, size_t size);

/* Parses voluntary_ctxt_switches from the text of /proc/.../status: how
 * often the thread has blocked. Returns 0 if absent or malformed. */
int rp_proc_parse_voluntary_switches(const char *text, uint64_t *out);

/* The thread's voluntary_ctxt_switches. Returns 0 if unreadable. */
int rp_proc_read_voluntary_switches(const rp_proc_thread_t *t, uint64_t *out);

/* 0 for waits that a signal would end for good whatever its handler does
 * (sigsuspend, sigtimedwait, pause, a blocking connect), 1 otherwise. */
int rp_proc_wchan_restartable(const char *wchan);
void rp_proc_close(rp_proc_thread_t *t);

/* Reads the thread's status: from syscall where readable, else from stat.
 * Never blocks on a lock; safe to call from another thread. */
void rp_proc_read(const rp_proc_thread_t *t, rp_thread_status_t *out);

/* Name of a common blocking system call ("poll", "read", ...) or NULL. */
const char *rp_proc_syscall_name(long nr);

#endif
