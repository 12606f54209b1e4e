/* mod_reqprof's child process: the sampler's signal and buffers, the symbol
 * table opened before the privilege drop, which shared object holds which
 * module, and the MPM's exit signals held while a profile is built. */
#include "mod_reqprof_process.h"

#include "mod_reqprof_config.h"
#include "mod_reqprof_engines.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"
#include "mpm_common.h"

#include <apr_strings.h>
#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <unistd.h>

#include "rp_proc.h"
#include "rp_sampler.h"

APLOG_USE_MODULE(reqprof);

/* Per-thread sample buffer, mapped lazily (untouched pages cost nothing):
 * room for ReqProfileMaxSamples' highest value at depth 40. */
#define SAMPLE_ARENA_BYTES (16u * 1024 * 1024)

static rp_symbols_t *process_symbols;
static const rp_object_module_t *process_modules;
static int process_module_count;

/* Set when the child's pool starts to go away. prefork does that from its
 * SIGTERM/SIGHUP handler, on top of whatever code the signal interrupted,
 * which may hold the sampler's lock: from then on, cleanups wait on nothing
 * and leave what remains to the process's exit. */
static volatile sig_atomic_t process_exiting;

/* prefork ends a child from its SIGTERM/SIGHUP handler: the handler destroys
 * the child's pools, and so calls free(), on top of whatever it interrupted.
 * Naming frames with libdw and rendering a report call malloc() thousands of
 * times; were the handler to land inside one of them, its free() would wait
 * forever for the lock this very thread holds, and the child would hang until
 * the parent kills it. So these signals wait until the report is built; they
 * are acted on the moment it is. (Threaded MPMs block them in request threads
 * already, where this changes nothing.) */
void rp_exit_signals_hold(sigset_t *saved)
{
    sigset_t exits;
    sigemptyset(&exits);
    sigaddset(&exits, SIGTERM);
    sigaddset(&exits, SIGHUP);
    sigaddset(&exits, SIGINT);
    pthread_sigmask(SIG_BLOCK, &exits, saved);
}

void rp_exit_signals_restore(const sigset_t *saved)
{
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static pid_t child_pid;

pid_t rp_process_pid(void)
{
    return child_pid != 0 ? child_pid : getpid();
}

/* Set in each child: whether its request threads may take exit signals. */
static int requests_take_exit_signals = 1;

void rp_request_exit_signals_hold(rp_exit_hold_t *hold)
{
    hold->held = requests_take_exit_signals;
    if (hold->held) {
        rp_exit_signals_hold(&hold->saved);
    }
}

void rp_request_exit_signals_restore(const rp_exit_hold_t *hold)
{
    if (hold->held) {
        rp_exit_signals_restore(&hold->saved);
    }
}

int rp_process_exiting(void)
{
    return process_exiting;
}

const char *rp_process_node(void)
{
    static char node[256];
    if (node[0] == '\0') {
        if (gethostname(node, sizeof(node) - 1) != 0 || node[0] == '\0') {
            apr_cpystrn(node, "unknown", sizeof(node));
        }
    }
    return node;
}

rp_symbols_t *rp_process_symbols(void)
{
    return process_symbols;
}

const rp_object_module_t *rp_process_modules(int *count)
{
    *count = process_module_count;
    return process_modules;
}

const char *rp_process_signal_name(apr_pool_t *pool, int signo)
{
    return apr_psprintf(pool, "SIGRTMIN+%d (%d)", signo - SIGRTMIN, signo);
}

static apr_status_t mark_exiting(void *data)
{
    (void)data;
    process_exiting = 1;
    return APR_SUCCESS;
}

static apr_status_t shutdown_sampler(void *data)
{
    (void)data;
    rp_sampler_shutdown_process(); /* waits on nothing: see there */
    process_symbols = NULL;
    process_modules = NULL;
    process_module_count = 0;
    return APR_SUCCESS;
}

/* Which shared object holds which module: the module record is a symbol
 * named after the module ("proxy_module") in its .so. */
static void map_module_objects(apr_pool_t *pool)
{
    apr_array_header_t *map =
        apr_array_make(pool, 32, sizeof(rp_object_module_t));
    for (module *m = ap_top_module; m != NULL; m = m->next) {
        Dl_info info;
        if (dladdr(m, &info) == 0 || info.dli_fname == NULL ||
            info.dli_sname == NULL) {
            continue;
        }
        const char *slash = strrchr(info.dli_fname, '/');
        const char *object = slash ? slash + 1 : info.dli_fname;
        if (strstr(object, ".so") == NULL) {
            continue; /* built into httpd itself */
        }
        rp_object_module_t *entry = apr_array_push(map);
        entry->object = apr_pstrdup(pool, object);
        entry->module = apr_pstrdup(pool, info.dli_sname);
    }
    process_modules = (const rp_object_module_t *)map->elts;
    process_module_count = map->nelts;
}

static void init_child(apr_pool_t *pchild, server_rec *s)
{
    (void)rp_process_node(); /* read once, before any thread asks */
    child_pid = getpid();
    /* prefork ends a child inside its exit signal handler, on the thread
     * that serves requests; worker and event only note the signal there
     * (their main thread ends the child), so a request thread that takes
     * one loses nothing. */
    int threaded = AP_MPMQ_NOT_SUPPORTED;
    requests_take_exit_signals =
        ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS ||
        threaded == AP_MPMQ_NOT_SUPPORTED;
    map_module_objects(pchild);
    int signo = rp_conf_signal(s);
    apr_status_t rv = rp_sampler_init_process(signo, SAMPLE_ARENA_BYTES);
    if (rv == RP_SAMPLER_SIGNAL_TAKEN) {
        /* Another module's timer, say: taking its signal would break it. */
        process_symbols = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     RP_LOG_TAG "profiling disabled in this process: signal "
                                "%s already has a handler that another "
                                "module or library installed, and mod_reqprof "
                                "leaves it alone; set ReqProfileSignal to a "
                                "realtime signal nothing else uses",
                     rp_process_signal_name(pchild, signo));
        return;
    }
    if (rv == APR_SUCCESS && process_symbols == NULL) {
        rv = APR_ENOMEM; /* the symbol table (see reqprof_drop_privileges) */
    }
    if (rv != APR_SUCCESS) {
        process_symbols = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     RP_LOG_TAG "profiling disabled in this process: cannot "
                                "set up signal %d or the symbol table",
                     signo);
        return;
    }
    rp_engines_attach_child();
    apr_pool_cleanup_register(pchild, NULL, shutdown_sampler,
                              apr_pool_cleanup_null);
    int rc = rp_sampler_start_thread();
    if (rc != 0) {
        /* Tried again by the first profile. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, rc, s,
                     RP_LOG_TAG "cannot start the sampler thread yet");
    }
    /* Runs before the pools of requests still in progress are destroyed. */
    apr_pool_pre_cleanup_register(pchild, NULL, mark_exiting);
}

static void reqprof_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (!rp_conf_requests_wanted()) {
        return; /* no signal handler, no sampler: nothing will profile */
    }
    /* As in reqprof_drop_privileges: no exit handler inside our set-up. */
    sigset_t signals;
    rp_exit_signals_hold(&signals);
    init_child(pchild, s);
    rp_exit_signals_restore(&signals);
}

/* Runs in each child before mod_unixd switches to the server's User (every
 * MPM runs drop_privileges in the child before setuid and before
 * child_init), while files only root may read are still readable:
 * - a child that is not dumpable can no longer open its own threads'
 *   /proc/.../syscall afterwards, but a descriptor opened now keeps
 *   working. prefork serves requests on this very thread, whose waits are
 *   then read from /proc exactly, without a signal.
 * - the symbol table opens every loaded object's ELF file (and separate
 *   debug file) now, and so does the sampler thread's unwinder (it reads
 *   their CFI to unwind blocked threads): a module kept where the User
 *   cannot read it (a 0700 directory) is still named, and its waits
 *   unwound, later. Objects loaded after this are opened when first seen,
 *   as the User. */
static void prepare_before_drop(apr_pool_t *pchild, server_rec *s)
{
    rp_proc_preopen_this_thread();
    apr_time_t started = apr_time_now();
    apr_status_t rv = rp_symbols_create(&process_symbols, pchild);
    if (rv != APR_SUCCESS) {
        process_symbols = NULL;
        return; /* child_init reports it */
    }
    /* Without a privilege drop to come, objects are opened when first
     * needed, as before. */
    int opened = 0, unwinder_opened = 0;
    if (geteuid() == 0) {
        opened = rp_symbols_open_all(process_symbols);
        unwinder_opened = rp_sampler_prepare_unwinder();
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 RP_LOG_TAG "symbol table and unwinder ready before the "
                            "privilege drop: %d and %d objects opened in "
                            "%" APR_TIME_T_FMT " us",
                 opened, unwinder_opened, apr_time_now() - started);
}

/* Returns DECLINED so that mod_unixd still drops privileges. */
static int reqprof_drop_privileges(apr_pool_t *pchild, server_rec *s)
{
    if (!rp_conf_requests_wanted()) {
        return DECLINED; /* no request will need the symbol table */
    }
    /* prefork's exit handler (a restart's SIGHUP) can already run here, and
     * it frees pchild: it must not land inside libdwfl's allocations. */
    sigset_t signals;
    rp_exit_signals_hold(&signals);
    prepare_before_drop(pchild, s);
    rp_exit_signals_restore(&signals);
    return DECLINED;
}

void rp_process_register(void)
{
    /* Before mod_unixd's (APR_HOOK_MIDDLE), which calls setuid. */
    ap_hook_drop_privileges(reqprof_drop_privileges, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    ap_hook_child_init(reqprof_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
