/* rp_unwind: unwinds a *blocked* thread of this process from another
 * thread, without signalling it, from the program counter and stack pointer
 * that /proc reports (the stack does not move while the thread waits).
 * Uses libdwfl's CFI unwinder with the stack read directly from memory.
 * Knows nothing of httpd. Not thread-safe: one unwinder per calling thread. */
#ifndef RP_UNWIND_H
#define RP_UNWIND_H

#include <stdint.h>
#include <sys/types.h>

/* The stack words an unwind read: while they are unchanged, the unwound
 * stack is still the thread's. */
#define RP_STACK_CHECK_WORDS 96
typedef struct rp_stack_check {
    int count;
    int overflow; /* more words were read than could be kept */
    uintptr_t addr[RP_STACK_CHECK_WORDS];
    uintptr_t value[RP_STACK_CHECK_WORDS];
} rp_stack_check_t;

typedef struct rp_blocked_thread {
    pid_t tid;
    uintptr_t pc;
    uintptr_t sp;
    uintptr_t stack_lo; /* the thread's stack: [stack_lo, stack_hi) */
    uintptr_t stack_hi;
    uintptr_t root_pc; /* the thread's outermost frame, 0 if unknown */
} rp_blocked_thread_t;

typedef struct rp_unwinder rp_unwinder_t;

rp_unwinder_t *rp_unwinder_create(void);
void rp_unwinder_destroy(rp_unwinder_t *u);

/* Opens every object loaded now (its ELF file, whose CFI the unwinder
 * reads), for a caller about to lose the right to open them; returns how
 * many were opened. Objects loaded later are opened when first met. */
int rp_unwinder_open_all(rp_unwinder_t *u);

/* Fills ips with the thread's stack, innermost first (ips[0] = pc, then
 * return addresses); returns the depth, 0 on failure. When the unwinder
 * stops short of root_pc (a frame whose rule needs the frame pointer, which
 * /proc does not give), candidate frame pointers found on the stack are
 * tried, and a result is kept only if it reaches root_pc. */
int rp_unwinder_unwind(rp_unwinder_t *u, const rp_blocked_thread_t *t,
                       uintptr_t *ips, int max_depth, rp_stack_check_t *check);

/* Whether the words an unwind read still hold the same values. */
int rp_stack_check_still_valid(const rp_stack_check_t *check);

#endif
