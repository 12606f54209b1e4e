#include "rp_unwind.h"

#include <dwarf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_dwfl.h"

/* DWARF register numbers on x86-64. */
#define DWARF_REG_RBP 6
#define DWARF_REG_RSP 7
/* How far above the stack pointer to look for a saved frame pointer, and
 * how many candidates to try. */
#define FRAME_POINTER_SCAN_WORDS 512
#define FRAME_POINTER_TRIES 6

struct rp_unwinder {
    Dwfl *dwfl;
    int attached;
    /* The current request, read by the callbacks. */
    const rp_blocked_thread_t *thread;
    uintptr_t frame_pointer; /* 0: unknown */
    rp_stack_check_t *check;
    uintptr_t *ips;
    int max_depth;
    int depth;
};

/* Written so that no sum can wrap: addresses come from unwinding rules
 * applied to whatever the stack holds. */
static int in_stack(const rp_blocked_thread_t *t, uintptr_t addr)
{
    return (addr & 7) == 0 && addr >= t->sp && addr >= t->stack_lo &&
           addr < t->stack_hi && t->stack_hi - addr >= sizeof(uintptr_t);
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    (void)dwfl;
    rp_unwinder_t *u = arg;
    if (*thread_argp != NULL) {
        return 0;
    }
    *thread_argp = u;
    return u->thread->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    (void)dwfl;
    rp_unwinder_t *u = arg;
    *thread_argp = u;
    return tid == u->thread->tid;
}

/* One word of another thread's stack. Reading a live stack from outside is
 * this file's purpose, so AddressSanitizer (which poisons the redzones
 * around that thread's locals) is told not to check it; every caller has
 * checked that addr lies in the thread's stack, above its stack pointer. */
__attribute__((no_sanitize("address"))) static uintptr_t
peek_stack_word(uintptr_t addr)
{
    return *(const volatile uintptr_t *)addr;
}

/* Reads only the blocked thread's own stack, above its stack pointer:
 * memory that exists and does not change while the thread waits. */
static bool read_stack_word(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
                            void *arg)
{
    (void)dwfl;
    rp_unwinder_t *u = arg;
    if (!in_stack(u->thread, (uintptr_t)addr)) {
        return false;
    }
    uintptr_t value = peek_stack_word((uintptr_t)addr);
    *result = value;
    rp_stack_check_t *c = u->check;
    if (c != NULL) {
        if (c->count < RP_STACK_CHECK_WORDS) {
            c->addr[c->count] = (uintptr_t)addr;
            c->value[c->count] = value;
            c->count++;
        } else {
            c->overflow = 1;
        }
    }
    return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
    rp_unwinder_t *u = arg;
    Dwarf_Word sp = u->thread->sp;
    if (!dwfl_thread_state_registers(thread, DWARF_REG_RSP, 1, &sp)) {
        return false;
    }
    if (u->frame_pointer != 0) {
        Dwarf_Word bp = u->frame_pointer;
        dwfl_thread_state_registers(thread, DWARF_REG_RBP, 1, &bp);
    }
    dwfl_thread_state_register_pc(thread, u->thread->pc);
    return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = read_stack_word,
    .set_initial_registers = set_initial_registers,
};

rp_unwinder_t *rp_unwinder_create(void)
{
    rp_unwinder_t *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        return NULL;
    }
    u->dwfl = rp_dwfl_begin_self();
    if (u->dwfl == NULL ||
        !dwfl_attach_state(u->dwfl, NULL, getpid(), &thread_callbacks, u)) {
        rp_unwinder_destroy(u);
        return NULL;
    }
    u->attached = 1;
    return u;
}

void rp_unwinder_destroy(rp_unwinder_t *u)
{
    if (u == NULL) {
        return;
    }
    if (u->dwfl != NULL) {
        dwfl_end(u->dwfl);
    }
    free(u);
}

int rp_unwinder_open_all(rp_unwinder_t *u)
{
    return u != NULL && u->dwfl != NULL ? rp_dwfl_open_all(u->dwfl) : 0;
}

static int collect_frame(Dwfl_Frame *frame, void *arg)
{
    rp_unwinder_t *u = arg;
    Dwarf_Addr pc;
    if (!dwfl_frame_pc(frame, &pc, NULL)) {
        return DWARF_CB_ABORT;
    }
    u->ips[u->depth++] = (uintptr_t)pc;
    return u->depth < u->max_depth ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static int unwind_once(rp_unwinder_t *u, uintptr_t frame_pointer)
{
    u->frame_pointer = frame_pointer;
    u->depth = 0;
    if (u->check != NULL) {
        u->check->count = 0;
        u->check->overflow = 0;
    }
    /* Ends with -1 at the outermost frame or at a frame it cannot unwind;
     * what was collected up to there is the answer either way. */
    dwfl_getthread_frames(u->dwfl, u->thread->tid, collect_frame, u);
    return u->depth;
}

static int reached_root(const rp_unwinder_t *u)
{
    return u->thread->root_pc == 0 ||
           (u->depth > 0 && u->ips[u->depth - 1] == u->thread->root_pc);
}

/* A frame-pointer frame stores the caller's frame pointer at [rbp] and the
 * return address at [rbp + 8]: a slot whose saved value points further up
 * the stack and whose neighbour points into mapped code is a candidate. */
static int looks_like_frame_record(rp_unwinder_t *u, uintptr_t slot)
{
    const rp_blocked_thread_t *t = u->thread;
    if (!in_stack(t, slot) || slot > UINTPTR_MAX - 8 ||
        !in_stack(t, slot + 8)) {
        return 0;
    }
    uintptr_t saved_bp = peek_stack_word(slot);
    uintptr_t ret = peek_stack_word(slot + 8);
    if (saved_bp != 0 && (saved_bp <= slot || !in_stack(t, saved_bp))) {
        return 0;
    }
    return dwfl_addrmodule(u->dwfl, ret) != NULL;
}

int rp_unwinder_unwind(rp_unwinder_t *u, const rp_blocked_thread_t *t,
                       uintptr_t *ips, int max_depth, rp_stack_check_t *check)
{
    if (u == NULL || !u->attached || max_depth <= 0) {
        return 0;
    }
    u->thread = t;
    u->ips = ips;
    u->max_depth = max_depth;
    u->check = check;
    int depth = unwind_once(u, 0);
    if (reached_root(u) || depth >= max_depth) {
        return depth;
    }
    /* Keep the short result unless a candidate frame pointer does better. */
    uintptr_t best[depth > 0 ? depth : 1];
    memcpy(best, ips, sizeof(uintptr_t) * (size_t)depth);
    rp_stack_check_t best_check;
    if (check != NULL) {
        best_check = *check;
    }
    int tries = 0;
    for (uintptr_t slot = t->sp; slot < t->sp + FRAME_POINTER_SCAN_WORDS * 8 &&
                                 tries < FRAME_POINTER_TRIES;
         slot += 8) {
        if (!looks_like_frame_record(u, slot)) {
            continue;
        }
        tries++;
        if (unwind_once(u, slot) > depth && reached_root(u)) {
            return u->depth;
        }
    }
    memcpy(ips, best, sizeof(uintptr_t) * (size_t)depth);
    if (check != NULL) {
        /* Set above under the same condition (cppcheck cannot tell). */
        // cppcheck-suppress uninitStructMember
        *check = best_check;
    }
    return depth;
}

int rp_stack_check_still_valid(const rp_stack_check_t *check)
{
    if (check->overflow) {
        return 0;
    }
    for (int i = 0; i < check->count; i++) {
        if (peek_stack_word(check->addr[i]) != check->value[i]) {
            return 0;
        }
    }
    return 1;
}
