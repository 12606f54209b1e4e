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
} rp_proc_thread_t;

/* Opens the thread's files. Returns 0 if not even stat can be opened. */
int rp_proc_open(rp_proc_thread_t *t, long tid);
void rp_proc_close(rp_proc_thread_t *t);

/* Reads the thread's status: from syscall where readable, else from stat.
 * Never blocks on a lock; safe to call from another thread. */
void rp_proc_read(const rp_proc_thread_t *t, rp_thread_status_t *out);

/* Name of a common blocking system call ("poll", "read", ...) or NULL. */
const char *rp_proc_syscall_name(long nr);

#endif
