/* rp_syscall_site: which system call a `syscall` instruction was issued
 * for, read from the machine code before it, and whether issuing it again
 * after a signal broke it is safe.
 *
 * When a signal handler interrupts a wait such as poll() or nanosleep(),
 * Linux returns EINTR whatever SA_RESTART says, and the call's number is
 * gone from the registers. glibc's wrappers load the number as an immediate
 * a few instructions before the `syscall`; this module finds it by decoding
 * forward from each candidate load and accepting only a run of plain moves
 * that leave %eax alone. Async-signal-safe: no allocation, no locks, reads
 * only the bytes it is given. x86-64 only. Knows nothing of httpd. */
#ifndef RP_SYSCALL_SITE_H
#define RP_SYSCALL_SITE_H

#include <stddef.h>

/* How many bytes before the `syscall` instruction are worth passing. */
#define RP_SYSCALL_SITE_WINDOW 32

/* code[0..len) are the bytes just before a `syscall` instruction (0f 05).
 * Returns the number loaded into %eax by the nearest `mov $imm32,%eax` or
 * `xor %eax,%eax` that reaches the `syscall` through recognised
 * instructions only, or -1. */
long rp_syscall_site_number(const unsigned char *code, size_t len);

/* 1 for blocking calls that a signal may break with EINTR and that can be
 * issued again with the same arguments (the kernel's own restart rule):
 * waits (poll, select, epoll, futex, sleeps) and socket or pipe transfers
 * that moved nothing. 0 for calls whose repetition means something else
 * (connect, pause, sigsuspend, sigtimedwait, ...). */
int rp_syscall_restartable(long nr);

#endif
