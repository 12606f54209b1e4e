/* mod_reqprof's child process: the sampler's signal, the symbol table (set
 * up before the privilege drop), which shared object holds which module,
 * and holding off the MPM's exit signals while a profile is built. */
#ifndef MOD_REQPROF_PROCESS_H
#define MOD_REQPROF_PROCESS_H

#include "mod_reqprof.h"

#include <signal.h>

#include "rp_profile.h"
#include "rp_symbols.h"

/* Hooks drop_privileges and child_init. */
void rp_process_register(void);

/* The process's symbol table; NULL: profiling is off in this process. */
rp_symbols_t *rp_process_symbols(void);
/* This machine's host name (read at child_init), as records name it. */
const char *rp_process_node(void);
/* This child's process id, read once at its start. */
pid_t rp_process_pid(void);
/* Which shared object holds which module; *count receives how many. */
const rp_object_module_t *rp_process_modules(int *count);
/* The child's pool is going away (prefork's exit signal handler): cleanups
 * must wait on nothing. */
int rp_process_exiting(void);
/* How ReqProfileSignal spells the signal, and its number. */
const char *rp_process_signal_name(apr_pool_t *pool, int signo);

/* Holds off the MPM's exit signals while a report is built (see why in
 * mod_reqprof_process.c); restore with what hold saved. */
void rp_exit_signals_hold(sigset_t *saved);
void rp_exit_signals_restore(const sigset_t *saved);

/* The same around work on a request's thread, where the MPM ends a child
 * from its exit signal handler on that thread (prefork); worker and event
 * only note the signal in their handlers (their main thread ends the
 * child), and the two system calls a request would pay for nothing are
 * saved there. */
typedef struct rp_exit_hold {
    int held;
    sigset_t saved;
} rp_exit_hold_t;
void rp_request_exit_signals_hold(rp_exit_hold_t *hold);
void rp_request_exit_signals_restore(const rp_exit_hold_t *hold);

#endif
